"""Read the OVN northbound tables eipfsck needs straight from ovsdb-server.

One short-lived OVSDB IDL session per call: fetch the server's schema, monitor only the
tables and columns of `snapshot.NB_COLUMNS`, wait for the initial dump, copy the rows out and
close. Rows come out exactly as `snapshot.decode_nb_table` makes them from
`ovn-nbctl --format=json list TABLE`, so a live read and a saved snapshot are
indistinguishable to everything downstream.

The IDL is driven here, in the caller's thread, rather than by ovsdbapp's `Connection`:

- `idlutils.get_schema_helper` opens its stream and waits for the reply with no deadline: a
  server that accepts but never answers (stopped, wedged, a half-open link) blocks it forever.
- `Connection.start` waits for the dump with `wait_for_change`, which cannot tell "the
  connection died halfway through the dump" from "still dumping": the IDL reconnects quietly
  and the caller learns nothing until the timeout. We want that loss reported at once.
- Its background thread exists to serve transactions on a long-lived connection. A one-shot
  read needs none, so there is no thread to stop, leak or print a traceback from.

What is used: ovsdbapp's `idlutils.create_schema_helper` (an ovs.db.idl.SchemaHelper), ovs'
`Idl` with `leader_only=True`, and ovs' own streams, JSON-RPC and poller. The ovs library logs
through its vlog, which stays silent unless the host program calls `ovs.vlog.Vlog.init()`;
nothing here logs or prints, every failure is returned as one line in `NbResult.error`.
"""

from __future__ import annotations

import errno
import os
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ovs.jsonrpc
import ovs.poller
import ovs.stream
import ovs.util
from ovs.db import idl as ovs_idl
from ovsdbapp.backend.ovs_idl import idlutils

from eipfsck.collect.progress import Progress, Silent
from eipfsck.snapshot import NB_COLUMNS, NB_TABLES, SourceStatus, decode_cell

NB_DATABASE = "OVN_Northbound"

# IDL states in which the data monitor request has been sent and its reply (the initial dump)
# is awaited; a disconnect seen in one of them means the dump was cut.
_DUMP_STATES = frozenset({
    ovs_idl.Idl.IDL_S_DATA_MONITOR_REQUESTED,
    ovs_idl.Idl.IDL_S_DATA_MONITOR_COND_REQUESTED,
    ovs_idl.Idl.IDL_S_DATA_MONITOR_COND_SINCE_REQUESTED,
})


@dataclass(frozen=True)
class NbTarget:
    # "tcp:H:P", "ssl:H:P", "unix:/path", or a comma list of cluster members
    remote: str
    private_key: str | None = None   # for ssl:
    certificate: str | None = None
    ca_cert: str | None = None
    timeout: float = 30.0            # seconds for connect + initial dump


@dataclass(frozen=True)
class NbResult:
    rows: dict[str, list[dict[str, Any]]] | None  # table -> rows; None when the read failed
    sources: tuple[SourceStatus, ...]  # one per snapshot.NB_TABLES entry, origin "nb"
    endpoint: str | None  # the member that answered (the leader for a cluster)
    error: str | None  # one-line operator message when the read failed

    # The NB is read as a whole (one dump, one ovn-nbctl call): every table shares one state.
    @classmethod
    def complete(cls, rows: dict[str, list[dict[str, Any]]], endpoint: str | None
                 ) -> NbResult:
        return cls(rows, tuple(SourceStatus(t, "nb", "complete", len(rows[t]))
                               for t in NB_TABLES), endpoint, None)

    @classmethod
    def failed(cls, detail: str, endpoint: str | None = None) -> NbResult:
        return cls(None, tuple(SourceStatus(t, "nb", "failed", detail=detail)
                               for t in NB_TABLES), endpoint, detail)

    @classmethod
    def skipped(cls, detail: str) -> NbResult:
        return cls(None, tuple(SourceStatus(t, "nb", "skipped", detail=detail)
                               for t in NB_TABLES), None, None)


class _ReadFailed(Exception):
    """The read cannot produce a complete, trustworthy table set; str() is the operator line."""


class _MemberFailed(Exception):
    """One member could not be used; the next one may be."""


# Silent is stateless, so one shared default instance is harmless (hence the noqa).
def read_northbound(target: NbTarget, progress: Progress = Silent()) -> NbResult:  # noqa: B008
    """Read every NB_TABLES table in one consistent dump, or fail as a whole.

    All tables arrive in the same monitor reply, so every table starts together; `advance`
    reports each table's rows as they are copied out of the dump, and `done` comes last, only
    once the whole set is known to be good. Rows of each table are sorted by `_uuid`.
    """
    for table in NB_TABLES:
        progress.start(table)
    try:
        rows, endpoint = _read(target, progress)
    except _ReadFailed as exc:
        message = str(exc)
        for table in NB_TABLES:
            progress.done(table, "failed", 0)
        return NbResult.failed(message)
    for table in NB_TABLES:
        progress.done(table, "complete", len(rows[table]))
    return NbResult.complete(rows, endpoint)


def _read(target: NbTarget, progress: Progress) -> tuple[dict[str, list[dict[str, Any]]], str]:
    idl, endpoint, seqno = _open(target)
    try:
        rows = _copy_rows(idl, progress)
        if not _still_connected(idl, seqno):
            raise _ReadFailed(f"{endpoint}: connection lost while the rows were being copied; "
                              "not using a dump the server may no longer stand behind (retry)")
        return rows, endpoint
    finally:
        idl.close()


def _open(target: NbTarget) -> tuple[ovs_idl.Idl, str, int]:
    """An IDL on the leader with its initial dump in, all within target.timeout: (idl, member,
    session seqno). The caller closes the IDL; on failure it is closed here."""
    if not target.timeout > 0:
        raise _ReadFailed(f"timeout must be positive, got {target.timeout!r}")
    deadline = time.monotonic() + target.timeout
    members = _members(target.remote)
    if any(m.startswith("ssl:") for m in members):
        _configure_ssl(target)
    schema, answered = _fetch_schema(members, deadline)
    helper = _schema_helper(schema, answered)
    # ovs' Idl, not ovsdbapp's OvsdbIdl subclass: that one sleep(0)s after every row for
    # eventlet's sake, which made a 20,000-port dump ~30% slower here and buys nothing.
    # Its session shuffles the members (as C's does, to spread clients) and, with leader_only,
    # asks each one's _Server database and moves on from any that is not the cluster leader.
    idl = _guard(lambda: ovs_idl.Idl(",".join(members), helper, leader_only=True), "set up")
    try:
        endpoint, seqno = _initial_dump(idl, members, deadline, target.timeout)
    except BaseException:
        idl.close()
        raise
    return idl, endpoint, seqno


def probe_northbound(target: NbTarget) -> str:
    """A light reachability check for `eipfsck doctor`: the first member that serves the
    schema, without dumping any table. Raises _ReadFailed with the reason."""
    if not target.timeout > 0:
        raise _ReadFailed(f"timeout must be positive, got {target.timeout!r}")
    members = _members(target.remote)
    if any(m.startswith("ssl:") for m in members):
        _configure_ssl(target)
    schema, answered = _fetch_schema(members, time.monotonic() + target.timeout)
    return f"{answered} serves {NB_DATABASE} schema {schema.get('version', '?')}"


def _members(remote: str) -> list[str]:
    members = [m.strip() for m in remote.split(",") if m.strip()]
    if not members:
        raise _ReadFailed("no OVN northbound remote given (expected tcp:HOST:PORT, "
                          "ssl:HOST:PORT or unix:PATH, or a comma list of them)")
    for m in members:
        method, _, rest = m.partition(":")
        if method not in ("tcp", "ssl", "unix") or not rest:
            raise _ReadFailed(f"invalid OVN northbound remote {m!r} (expected tcp:HOST:PORT, "
                              "ssl:HOST:PORT or unix:PATH)")
        if method != "unix" and not rest.rpartition(":")[2].isdigit():
            raise _ReadFailed(f"invalid OVN northbound remote {m!r}: no port "
                              f"(for example {method}:{rest}:6641)")
    return members


def _configure_ssl(target: NbTarget) -> None:
    files = {"private key": target.private_key, "certificate": target.certificate,
             "CA certificate": target.ca_cert}
    for what, path in files.items():
        if not path:
            raise _ReadFailed(f"{target.remote}: an ssl: remote needs a {what} file")
        if not os.path.isfile(path):
            raise _ReadFailed(f"ssl {what} file {path}: not found")
        if not os.access(path, os.R_OK):
            raise _ReadFailed(f"ssl {what} file {path}: not readable")
    assert target.private_key and target.certificate and target.ca_cert
    # Load them once here: ovs' SSLStream loads them inside the connect path, where a bad file
    # surfaces as a bare exception without saying which file it was.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        ctx.load_verify_locations(target.ca_cert)
    except (ssl.SSLError, OSError) as exc:
        raise _ReadFailed(f"ssl CA certificate file {target.ca_cert}: cannot be used "
                          f"({_ssl_reason(exc)})") from None
    try:
        ctx.load_cert_chain(target.certificate, target.private_key)
    except (ssl.SSLError, OSError) as exc:
        raise _ReadFailed(f"ssl certificate {target.certificate} with private key "
                          f"{target.private_key}: cannot be used ({_ssl_reason(exc)})") from None
    # Process-global in ovs: the last read's files win, so set them on every read.
    ovs.stream.Stream.ssl_set_private_key_file(target.private_key)
    ovs.stream.Stream.ssl_set_certificate_file(target.certificate)
    ovs.stream.Stream.ssl_set_ca_cert_file(target.ca_cert)


def _ssl_reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError) and exc.verify_message:
        return f"certificate verify failed: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason).lower().replace("_", " ")
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _guard(call: Callable[[], Any], what: str) -> Any:
    """Run an ovs library call; whatever it raises becomes a failed read, not a traceback."""
    try:
        return call()
    except _ReadFailed:
        raise
    except Exception as exc:  # the library's failure modes are not documented; none may escape
        raise _ReadFailed(f"OVSDB client failed to {what}: {type(exc).__name__}: {exc}") from None


# ---------------------------------------------------------------------------------------------
# Schema


def _fetch_schema(members: list[str], deadline: float) -> tuple[dict[str, Any], str]:
    """The server's OVN_Northbound schema, and the first member (in the given order) that gave
    it.

    Any member will do (followers serve get_schema too). Each member gets an equal share of
    the time left, so one that swallows packets cannot starve the others.
    """
    problems: list[str] = []
    for i, member in enumerate(members):
        now = time.monotonic()
        if now >= deadline:
            problems.append(f"{member} (not tried: out of time)")
            continue
        end = now + (deadline - now) / (len(members) - i)
        try:
            return _get_schema(member, end), member
        except _MemberFailed as exc:
            problems.append(f"{member} ({exc})")
    if len(members) == 1:
        raise _ReadFailed(f"cannot read the OVN northbound database at {problems[0]}")
    raise _ReadFailed("cannot read the OVN northbound database from any member: "
                      + "; ".join(problems))


def _get_schema(member: str, end: float) -> dict[str, Any]:
    start = time.monotonic()
    error, stream = _guard(lambda: ovs.stream.Stream.open(member), f"open {member}")
    if error:
        raise _MemberFailed(_strerror(error))
    rpc: ovs.jsonrpc.Connection | None = None
    try:
        _connect(member, stream, end)
        rpc = ovs.jsonrpc.Connection(stream)
        request = ovs.jsonrpc.Message.create_request("get_schema", [NB_DATABASE])
        rpc.send(request)
        while True:
            rpc.run()
            error, msg = rpc.recv()
            if error == 0 and msg is not None:
                if msg.type == ovs.jsonrpc.Message.T_REQUEST and msg.method == "echo":
                    rpc.send(ovs.jsonrpc.Message.create_reply(msg.params, msg.id))
                elif msg.id == request.id and msg.type == ovs.jsonrpc.Message.T_REPLY:
                    if not isinstance(msg.result, dict):
                        raise _MemberFailed("get_schema answered with something not a schema")
                    return msg.result
                elif msg.id == request.id:
                    raise _MemberFailed(f"no {NB_DATABASE} database on this server: "
                                        f"{_rpc_error(msg.error)}")
                continue
            if error != errno.EAGAIN:
                if member.startswith("ssl:") and rpc.get_received_bytes() == 0:
                    # With TLS 1.3 the server checks our certificate after the handshake and
                    # just closes; the client then sees EOF, EPERM (python-ovs' word for any
                    # TLS-layer error), ENOTCONN or a reset, depending on timing.
                    raise _MemberFailed(
                        "the server closed the TLS session before answering; it may have "
                        "rejected the client certificate (is it signed by a CA the server "
                        "trusts?)")
                raise _MemberFailed(_strerror(error))
            if time.monotonic() >= end:
                raise _MemberFailed(f"connected, but no answer within {end - start:.3g} s")
            poller = ovs.poller.Poller()
            rpc.wait(poller)
            rpc.recv_wait(poller)
            _timer_until(poller, end)
            poller.block()
    finally:
        if rpc is not None:
            rpc.close()
        else:
            stream.close()


def _connect(member: str, stream: ovs.stream.Stream, end: float) -> None:
    start = time.monotonic()
    while True:
        handshake_wants: int | None = None
        if isinstance(stream, ovs.stream.SSLStream):
            # SSLStream.connect turns a failed handshake into errno 1 ("Operation not
            # permitted"): complete TCP with the base class and do the handshake here, which
            # keeps OpenSSL's reason ("certificate verify failed: ...").
            error = ovs.stream.Stream.connect(stream)
            if error == 0:
                try:
                    stream.socket.do_handshake()
                except ssl.SSLWantReadError:
                    error, handshake_wants = errno.EAGAIN, ovs.poller.POLLIN
                except ssl.SSLWantWriteError:
                    error, handshake_wants = errno.EAGAIN, ovs.poller.POLLOUT
                except (ssl.SSLError, OSError) as exc:
                    raise _MemberFailed(f"TLS handshake failed: {_ssl_reason(exc)}") from None
        else:
            error = stream.connect()
        if error == 0:
            return
        if error != errno.EAGAIN:
            raise _MemberFailed(_strerror(error))
        if time.monotonic() >= end:
            raise _MemberFailed(f"no connection within {end - start:.3g} s")
        poller = ovs.poller.Poller()
        if handshake_wants is not None:
            # Not connect_wait(): once TCP is up it waits for POLLOUT, which is always ready,
            # and the loop would spin while the server thinks.
            poller.fd_wait(stream.socket, handshake_wants)
        else:
            stream.run_wait(poller)
            stream.connect_wait(poller)
        _timer_until(poller, end)
        poller.block()


def _schema_helper(schema: dict[str, Any], member: str) -> ovs_idl.SchemaHelper:
    tables = schema.get("tables")
    if not isinstance(tables, dict):
        raise _ReadFailed(f"{member}: the {NB_DATABASE} schema has no tables")
    missing = [f"{t}.{c}" for t in NB_TABLES for c in sorted(NB_COLUMNS[t] - {"_uuid"})
               if t not in tables or c not in (tables[t].get("columns") or {})]
    if missing:
        raise _ReadFailed(f"{member}: the server's {NB_DATABASE} schema "
                          f"{schema.get('version', '?')} lacks {', '.join(missing)}; "
                          "this OVN is older than eipfsck supports")
    helper: ovs_idl.SchemaHelper = _guard(lambda: idlutils.create_schema_helper(schema),
                                          "parse the schema")
    for table in NB_TABLES:
        # Only these columns are monitored: the server sends nothing else (no Logical_Switch_Port
        # "up", no ACLs...), which keeps the dump as small as the model allows.
        helper.register_columns(table, sorted(NB_COLUMNS[table] - {"_uuid"}))
    return helper


# ---------------------------------------------------------------------------------------------
# Dump


def _initial_dump(idl: ovs_idl.Idl, members: list[str], deadline: float, timeout: float
                  ) -> tuple[str, int]:
    """Drive the IDL until its initial dump is in; returns (member, session seqno)."""
    # `_session` because ovs' Idl has no is_connected(): the jsonrpc session is the only
    # place that knows whether the link the dump came over is still up.
    session = idl._session
    roles: dict[str, str] = {}
    # A disconnect moves the session's name on to the next member: remember who we talked to.
    member = idl.session_name()
    while True:
        _guard(idl.run, "process the server's messages")
        connected = session.is_connected() and session.rpc.get_status() == 0
        if connected:
            member = idl.session_name()
        if connected and idl.state == ovs_idl.Idl.IDL_S_MONITORING and idl.has_ever_connected():
            return member, session.get_seqno()
        if not connected and (idl.state in _DUMP_STATES
                              or idl.state == ovs_idl.Idl.IDL_S_MONITORING):
            # The IDL would reconnect and dump again; a cut dump is reported, not retried, so
            # the operator learns the link is unreliable (the retry is theirs to make).
            raise _ReadFailed(f"{member}: connection lost during the initial dump of the "
                              "northbound tables; nothing was read (retry)")
        if connected:
            role = _cluster_role(idl)
            if role is not None:
                roles[member] = role
        left = deadline - time.monotonic()
        if left <= 0:
            raise _ReadFailed(_timeout_message(members, roles, timeout))
        poller = ovs.poller.Poller()
        idl.wait(poller)
        poller.timer_wait(int(left * 1000) + 1)
        poller.block()


def _cluster_role(idl: ovs_idl.Idl) -> str | None:
    """What the connected member said about itself in _Server, if it said anything yet."""
    # Only once the _Server reply for this connection is in: before that, server_tables may
    # still hold the previous member's rows.
    if idl.state in (ovs_idl.Idl.IDL_S_INITIAL, ovs_idl.Idl.IDL_S_SERVER_SCHEMA_REQUESTED):
        return None
    tables = idl.server_tables or {}
    if "Database" not in tables:
        return None
    for row in tables["Database"].rows.values():
        if row.name != NB_DATABASE:
            continue
        if row.model == "relay":
            return "a relay, not the leader"
        if row.model != "clustered":
            continue
        if not row.schema:
            return "not yet joined to the cluster"
        if not row.connected:
            return "disconnected from the cluster"
        return "leader" if row.leader else "follower, not the leader"
    return None


def _timeout_message(members: list[str], roles: dict[str, str], timeout: float) -> str:
    base = f"no complete answer from {','.join(members)} within {timeout:g} s"
    if roles and "leader" not in roles.values():
        said = "; ".join(f"{m}: {r}" for m, r in roles.items())
        return f"{base}: no cluster leader found ({said})"
    return base


def _copy_rows(idl: ovs_idl.Idl, progress: Progress) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for table in NB_TABLES:
        columns = sorted(NB_COLUMNS[table] - {"_uuid"})
        rows: list[dict[str, Any]] = []
        for row in idl.tables[table].rows.values():
            record: dict[str, Any] = {"_uuid": str(row.uuid)}
            for column in columns:
                # The raw Datum, not the Python attribute: Datum.to_json() is the RFC 7047 cell
                # ovsdb-server and ovn-nbctl print (atoms sorted, a one-element set as the bare
                # atom, references as ["uuid", u]), so decode_cell gives exactly what
                # decode_nb_table gives for ovn-nbctl's output.
                record[column] = decode_cell(row._data[column].to_json())
            rows.append(record)
        # ovn-nbctl prints rows in hash order; the UUID order is merely deterministic.
        rows.sort(key=lambda r: r["_uuid"])
        out[table] = rows
        progress.advance(table, len(rows))
    return out


def _still_connected(idl: ovs_idl.Idl, seqno: int) -> bool:
    """Is the link the dump came over still up? One run() lets a close that arrived meanwhile
    (EOF, reset) register before asking."""
    session = idl._session
    try:
        idl.run()
    except Exception:  # any failure here means the session cannot be vouched for
        return False
    return (session.is_connected() and session.get_seqno() == seqno
            and session.rpc.get_status() == 0)


# ---------------------------------------------------------------------------------------------
# Small helpers


def _strerror(error: int) -> str:
    if error == ovs.util.EOF:
        return "connection closed by the server"
    if error > 0:
        return os.strerror(error).lower()
    return f"error {error}"


def _rpc_error(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("details") or error.get("error") or error)
    return str(error)


def _timer_until(poller: ovs.poller.Poller, end: float) -> None:
    poller.timer_wait(max(1, int((end - time.monotonic()) * 1000) + 1))
