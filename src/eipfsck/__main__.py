from eipfsck.cli import main

main()
