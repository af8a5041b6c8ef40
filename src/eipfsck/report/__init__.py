"""Report formats: each turns the one Report value into text."""
