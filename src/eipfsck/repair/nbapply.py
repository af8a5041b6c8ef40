"""Delete orphaned OVN northbound rows, only if they are still exactly what was planned.

`NbWriter` holds one leader-only IDL session (opened the way the reader opens its own, bounded
by `NbTarget.timeout`). Each `delete()` call is one OVSDB transaction: every row it names is
re-read from the IDL and compared with the planned values, every planned column is
`Row.verify()`d, which makes ovsdb-server check with a `wait` operation, inside the same
transaction, that the row still holds the values compared, and the references are dropped.
A row that changed between the compare and the commit therefore cannot be deleted: the server
refuses the whole transaction instead.

The transaction is driven here with ovs' `Transaction`, not ovsdbapp's `Transaction` and
`Connection` thread, because that thread commits with `commit_block()`, which has no deadline:
with a server that stops answering, the caller's `commit()` times out but the thread stays
blocked (its `stop()` cannot join it) and the transaction still applies when the server wakes
up. Nor does ovsdbapp tell a `wait` the server refused from a lost connection (both are
TRY_AGAIN to it), and it retries for as long as its timeout allows; here a refused commit is
re-read, and retried at most once and only if the rows still equal the plan. (ovsdbapp still
parses the schema, through the reader's `_open`.)
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import ovs.jsonrpc
import ovs.poller
from ovs.db import idl as ovs_idl

from eipfsck.collect.ovnnb import NbTarget, _open, _ReadFailed
from eipfsck.errors import EipfsckError
from eipfsck.repair.outcome import ActionResult
from eipfsck.snapshot import NB_COLUMNS, decode_cell

# table -> (parent table, parent column): the strong reference that keeps a non-root row alive
# (the only strong ones in ovn-nb.ovsschema; other references to these tables are weak, and
# ovsdb-server drops weak references to a deleted row itself).
PARENTS: dict[str, tuple[str, str]] = {
    "NAT": ("Logical_Router", "nat"),
    "Logical_Router_Port": ("Logical_Router", "ports"),
    "Logical_Switch_Port": ("Logical_Switch", "ports"),
}
TABLES: tuple[str, ...] = (*PARENTS, "Load_Balancer")
_PARENT_KIND = {"Logical_Router": "router", "Logical_Switch": "switch"}
_SHORT = 60


class NbWriteError(EipfsckError):
    """The northbound database cannot be written to at all (no connection, no leader)."""


@dataclass(frozen=True)
class NbRowDelete:
    table: str  # "NAT" | "Logical_Router_Port" | "Logical_Switch_Port" | "Load_Balancer"
    uuid: str
    # column -> value in the decoded form of decode_nb_table / the live reader (sets as lists
    # or a bare atom, maps as dicts, references as UUID strings)
    expect: dict[str, Any]
    vip: str | None = None  # Load_Balancer only: remove only this key from `vips`


# ---------------------------------------------------------------------------------------------
# Comparing a row with the plan (pure)


@dataclass(frozen=True)
class Difference:
    column: str  # "vips[KEY]" for one VIP of a Load_Balancer
    planned: Any
    current: Any


def canonical(value: Any) -> Any:
    """One hashable form for every way the decoded form can spell the same OVSDB datum.

    Decoding prints a one-element set as the bare atom and an empty map as an empty set, and
    set order carries no meaning: so an atom, a list and a dict all become sets here, and
    None, [] and {} are the same empty set.
    """
    if value is None:
        return ("set", ())
    if isinstance(value, dict):
        if not value:
            return ("set", ())
        return ("map", tuple(sorted((_atom(k), _atom(v)) for k, v in value.items())))
    if isinstance(value, (list, tuple)):
        return ("set", tuple(sorted({_atom(a) for a in value})))
    return ("set", (_atom(value),))


def _atom(value: Any) -> tuple[str, Any]:
    # Tagged so that atoms of different types sort without comparing across types; bool
    # before int because bool is an int to Python but not to OVSDB.
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (int, float)):
        return ("num", value)
    if isinstance(value, str):
        return ("str", value)
    return ("other", json.dumps(value, sort_keys=True, default=str))


def differences(current: dict[str, Any], expect: dict[str, Any], vip: str | None = None
                ) -> list[Difference]:
    """Where `current` (a decoded row) is not what `expect` planned, column by column.

    With `vip`, the planned `vips` is a part of the row's map: each planned key must be there
    with the planned backends, and other keys do not matter.
    """
    out: list[Difference] = []
    for column in sorted(expect):
        planned, now = expect[column], current.get(column)
        if vip is not None and column == "vips":
            now_map = now if isinstance(now, dict) else {}
            for key in sorted(planned, key=str):
                if key not in now_map or canonical(now_map[key]) != canonical(planned[key]):
                    out.append(Difference(f"vips[{key}]", planned[key], now_map.get(key)))
        elif canonical(now) != canonical(planned):
            out.append(Difference(column, planned, now))
    return out


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)
    return text if len(text) <= _SHORT else text[:_SHORT - 1] + "…"


def _describe(diffs: list[Difference]) -> str:
    return ", ".join(f"{d.column}: planned {_short(d.planned)}, now "
                     f"{'absent' if d.current is None else _short(d.current)}" for d in diffs)


# ---------------------------------------------------------------------------------------------
# The writer


@dataclass(frozen=True)
class _Read:
    """One delete() request as found in the IDL just now."""

    request: NbRowDelete
    row: dict[str, Any] | None  # decoded; None when gone
    diffs: list[Difference]

    @property
    def gone(self) -> bool:
        return self.row is None


@dataclass(frozen=True)
class _Commit:
    status: Literal["success", "refused", "failed"]
    detail: str  # for "refused": which wait failed and what the server said; else the error
    seqno: int  # the IDL's change_seqno when the transaction was built


class _Transaction(ovs_idl.Transaction):
    # ovs reports a refused wait and a lost connection alike as TRY_AGAIN; only the server's
    # reply (absent when the connection was lost) tells them apart, so it is kept.
    reply: ovs.jsonrpc.Message | None = None

    def _process_reply(self, msg: ovs.jsonrpc.Message) -> None:
        self.reply = msg
        super()._process_reply(msg)


class NbWriter:
    """`with NbWriter(target) as w: w.delete(rows)`: one session, one transaction per call."""

    def __init__(self, target: NbTarget) -> None:
        self.target = target
        self.endpoint = ""
        self._idl: ovs_idl.Idl | None = None

    def __enter__(self) -> NbWriter:
        try:
            self._idl, self.endpoint, _ = _open(self.target)
        except _ReadFailed as exc:
            raise NbWriteError(f"{exc}; nothing was changed") from None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._idl is not None:
            self._idl.close()
            self._idl = None

    # -----------------------------------------------------------------------------------------

    def delete(self, rows: Sequence[NbRowDelete],
               before_commit: Callable[[], None] | None = None) -> ActionResult:
        """Delete `rows` in one transaction if each still equals its `expect`; see the module
        docstring. Raises ValueError for a malformed request, never for what the database
        holds: that is always told in the returned ActionResult."""
        requests = tuple(rows)
        _validate(requests)
        if self._idl is None:
            raise RuntimeError("NbWriter is not open: use it as `with NbWriter(target) as w:`")
        deadline = time.monotonic() + self.target.timeout
        problem = self._sync(deadline)
        if problem:
            return ActionResult("failed", f"{problem}; nothing was deleted")
        reads = self._read(requests)
        before = {r.request.uuid: r.row for r in reads if r.row is not None} or None
        present = [r for r in reads if not r.gone]
        if not present:
            return ActionResult("already-gone", _gone_text(reads))
        changed = [r for r in present if r.diffs]
        if changed:
            return ActionResult("skipped-changed", _changed_text(changed, reads), before)

        refusals: list[str] = []
        for attempt in (1, 2):
            hook = before_commit if attempt == 1 else None
            commit, deleted, deadline = self._attempt([r.request for r in present], hook,
                                                      deadline)
            if commit.status == "success":
                return self._released(present, deleted, reads, refusals, before)
            if commit.status == "failed":
                return ActionResult("failed", commit.detail, before)
            refusals.append(f"commit {attempt} refused by ovsdb-server: {commit.detail}")
            problem = self._catch_up(commit.seqno, deadline)
            if problem:
                return ActionResult("failed", "; ".join([*refusals, problem]), before)
            reads = self._read(requests)
            present = [r for r in reads if not r.gone]
            why = "the OVSDB wait failed: the row changed between the read and the commit"
            if not present:
                return ActionResult("already-gone", f"{why} ({'; '.join(refusals)}); "
                                    f"{_gone_text(reads)}", before)
            changed = [r for r in present if r.diffs]
            if changed:
                return ActionResult("skipped-changed", f"{why} ({'; '.join(refusals)}); "
                                    f"{_changed_text(changed, reads)}", before)
            # Still as planned (what changed was not planned, e.g. another VIP of the same
            # load balancer): one more transaction, with fresh waits, and no more.
        return ActionResult("skipped-changed",
                            "the OVSDB wait failed on both commits: the rows keep changing "
                            f"while still matching the plan ({'; '.join(refusals)}); "
                            "nothing deleted", before)

    # -----------------------------------------------------------------------------------------

    def _sync(self, deadline: float) -> str | None:
        """Take in what the server sent since the last call; wait (until `deadline`) for a
        session that is connected and monitoring, as after a reconnect. A problem, or None."""
        idl = self._idl
        assert idl is not None
        while True:
            try:
                idl.run()
            except Exception as exc:  # the library's failure modes are not documented
                return f"OVSDB client failed: {type(exc).__name__}: {exc}"
            session = idl._session
            if (session.is_connected() and session.rpc.get_status() == 0
                    and idl.state == ovs_idl.Idl.IDL_S_MONITORING):
                self.endpoint = idl.session_name()
                return None
            if time.monotonic() >= deadline:
                return (f"{self.endpoint}: connection to the northbound leader lost and not "
                        f"back within {self.target.timeout:g} s")
            self._block(deadline)

    def _block(self, deadline: float, txn: ovs_idl.Transaction | None = None) -> None:
        assert self._idl is not None
        poller = ovs.poller.Poller()
        self._idl.wait(poller)
        if txn is not None:
            txn.wait(poller)
        poller.timer_wait(max(1, int((deadline - time.monotonic()) * 1000) + 1))
        poller.block()

    def _read(self, requests: tuple[NbRowDelete, ...]) -> list[_Read]:
        out = []
        for req in requests:
            row = self._row(req)
            current = None if row is None else _decode(row, req.table)
            if current is not None and req.vip is not None \
                    and req.vip not in (current.get("vips") or {}):
                current = None
            diffs = [] if current is None else differences(current, req.expect, req.vip)
            out.append(_Read(req, current, diffs))
        return out

    def _row(self, req: NbRowDelete) -> ovs_idl.Row | None:
        assert self._idl is not None
        row: ovs_idl.Row | None = self._idl.tables[req.table].rows.get(uuid.UUID(req.uuid))
        return row

    def _attempt(self, requests: list[NbRowDelete], before_commit: Callable[[], None] | None,
                 deadline: float) -> tuple[_Commit, list[str], float]:
        """Build and commit one transaction: the outcome, what it deleted, and the deadline
        (moved on by the time `before_commit` took)."""
        idl = self._idl
        assert idl is not None
        seqno = idl.change_seqno
        parents = _parents(idl, {r.table for r in requests})
        orphans = [r for r in requests if r.vip is None and not parents.get(r.uuid)]
        if orphans:
            # Checked before the transaction: ovs' verify() marks the row without enlisting
            # it, so a verified row the transaction then leaves alone would keep the mark.
            return _Commit("failed", "; ".join(
                f"{r.table} {r.uuid} is in no {'.'.join(PARENTS[r.table])}: nothing to "
                "unreference it from, so it cannot be deleted" for r in orphans)
                + "; nothing was deleted", seqno), [], deadline
        txn = _Transaction(idl)
        try:
            deleted = self._build(requests, parents)
            txn.add_comment("eipfsck repair: " + "; ".join(deleted))
            # The order ovs will put the wait operations in, to name a refused one.
            waits = [f"{row._table.name} {row.uuid}" for row in txn._txn_rows.values()
                     if row._prereqs]
            if before_commit is not None:
                started = time.monotonic()
                before_commit()
                # A test seam: its own run time is not the commit's to spend.
                deadline += time.monotonic() - started
        except BaseException:
            txn.abort()
            raise
        return self._commit(txn, waits, deadline, seqno), deleted, deadline

    def _build(self, requests: list[NbRowDelete], parents: dict[str, list[ovs_idl.Row]]
               ) -> list[str]:
        """Verify, unreference and delete, in the open transaction; returns what it does."""
        done: list[str] = []
        for req in requests:
            row = self._row(req)
            assert row is not None  # read just before, and no run() since
            # Before any change to the row: verify() is a no-op on a column already written.
            for column in sorted(req.expect):
                if column != "_uuid":
                    row.verify(column)
            if req.vip is not None:
                row.delkey("vips", req.vip)
                done.append(f"removed VIP {req.vip} from Load_Balancer {req.uuid} "
                            f"({_name(row)})")
                continue
            holders = parents[req.uuid]
            _, pcolumn = PARENTS[req.table]
            for parent in holders:
                parent.delvalue(pcolumn, row)
            # A no-op on the wire for a non-root row (ovs leaves it to the server, which
            # garbage-collects it once unreferenced), but keeps the IDL's view consistent.
            row.delete()
            names = ", ".join(f"{_PARENT_KIND[p._table.name]} {_name(p)}" for p in holders)
            label = f" ({_name(row)})" if req.table != "NAT" else ""
            done.append(f"deleted {req.table} {req.uuid}{label} from {names}")
        return done

    def _commit(self, txn: _Transaction, waits: list[str], deadline: float, seqno: int
                ) -> _Commit:
        idl = self._idl
        assert idl is not None
        endpoint = self.endpoint
        session = idl._session
        link = session.get_seqno()
        lost = _Commit("failed", f"{endpoint}: connection lost during the commit; it may or "
                       "may not have been applied (re-read before acting again)", seqno)
        try:
            status = txn.commit()
            while status == ovs_idl.Transaction.INCOMPLETE:
                # ovs fails an outstanding transaction only once the session has reconnected,
                # which a dead server never lets happen: watch the link itself.
                if not session.is_connected() or session.get_seqno() != link:
                    txn.abort()
                    return lost
                if time.monotonic() >= deadline:
                    txn.abort()
                    return _Commit("failed", f"{endpoint}: no answer to the commit within "
                                   f"{self.target.timeout:g} s; it may still be applied "
                                   "(re-read before acting again)", seqno)
                self._block(deadline, txn)
                idl.run()
                status = txn.commit()
        except Exception as exc:  # the library's failure modes are not documented
            return _Commit("failed", f"OVSDB client failed during the commit: "
                           f"{type(exc).__name__}: {exc}", seqno)
        if status == ovs_idl.Transaction.SUCCESS:
            return _Commit("success", "", seqno)
        reply = txn.reply
        if status == ovs_idl.Transaction.TRY_AGAIN and reply is not None \
                and reply.type == ovs.jsonrpc.Message.T_REPLY:
            return _Commit("refused", _refusal(reply.result, waits), seqno)
        if status == ovs_idl.Transaction.TRY_AGAIN:
            return lost
        if status == ovs_idl.Transaction.ERROR:
            return _Commit("failed", f"ovsdb-server refused the transaction: "
                           f"{_server_error(txn, reply)}", seqno)
        return _Commit("failed", f"unexpected commit status {status!r}: {txn.get_error()}",
                       seqno)

    def _catch_up(self, seqno: int, deadline: float) -> str | None:
        """After a refused wait: take in the change that refused it (the server sent it before
        its reply, so normally it is in already)."""
        idl = self._idl
        assert idl is not None
        while idl.change_seqno == seqno:
            if time.monotonic() >= deadline:
                return (f"the change that refused the commit did not arrive within "
                        f"{self.target.timeout:g} s; nothing was deleted")
            self._block(deadline)
            problem = self._sync(deadline)
            if problem:
                return f"{problem}; nothing was deleted"
        return None

    def _released(self, present: list[_Read], deleted: list[str], reads: list[_Read],
                  refusals: list[str], before: dict[str, Any] | None) -> ActionResult:
        # On success the server has sent the update before its reply: a row still in the IDL
        # survived the transaction, which only something else holding it can explain.
        survivors = [r.request for r in self._read(tuple(r.request for r in present))
                     if not r.gone]
        if survivors:
            names = ", ".join(f"{s.table} {s.uuid}" for s in survivors)
            return ActionResult("failed", f"the transaction committed ({'; '.join(deleted)}) "
                                f"but {names} is still there after it (kept by a reference "
                                "eipfsck does not know, or added again)", before)
        parts = ["; ".join(deleted)]
        gone = [r for r in reads if r.gone]
        if gone:
            parts.append(_gone_text(gone))
        if refusals:
            parts.append(f"after one retry: {'; '.join(refusals)}, the rows still matched "
                         "the plan")
        return ActionResult("released", "; ".join(parts), before)


# ---------------------------------------------------------------------------------------------
# Helpers


def _validate(requests: tuple[NbRowDelete, ...]) -> None:
    if not requests:
        raise ValueError("delete() needs at least one row")
    seen: set[tuple[str, str, str | None]] = set()
    for req in requests:
        where = f"{req.table} {req.uuid}"
        if req.table not in TABLES:
            raise ValueError(f"{where}: cannot delete rows of {req.table} "
                             f"(only {', '.join(TABLES)})")
        try:
            canonical_uuid = str(uuid.UUID(req.uuid))
        except (ValueError, TypeError, AttributeError):
            raise ValueError(f"{where}: not a UUID") from None
        if canonical_uuid != req.uuid:
            # Rows are matched by this string too (parents' references): one spelling only.
            raise ValueError(f"{where}: not in the canonical form {canonical_uuid}")
        unread = sorted(set(req.expect) - NB_COLUMNS[req.table])
        if unread:
            raise ValueError(f"{where}: expect names columns eipfsck does not read: "
                             f"{', '.join(unread)}")
        if not set(req.expect) - {"_uuid"}:
            raise ValueError(f"{where}: expect is empty; a delete needs planned values to "
                             "verify")
        if req.table == "Load_Balancer":
            if req.vip is None:
                raise ValueError(f"{where}: a Load_Balancer is never deleted, only one VIP "
                                 "(give vip)")
            vips = req.expect.get("vips")
            if not isinstance(vips, dict) or req.vip not in vips:
                raise ValueError(f"{where}: expect['vips'] must map {req.vip!r} to its "
                                 "planned backends")
        elif req.vip is not None:
            raise ValueError(f"{where}: vip is for Load_Balancer rows only")
        key = (req.table, req.uuid, req.vip)
        if key in seen:
            raise ValueError(f"{where}: named twice")
        seen.add(key)


def _decode(row: ovs_idl.Row, table: str) -> dict[str, Any]:
    # As the reader's _copy_rows decodes: the raw Datum's JSON through decode_cell.
    record: dict[str, Any] = {"_uuid": str(row.uuid)}
    for column in sorted(NB_COLUMNS[table] - {"_uuid"}):
        record[column] = decode_cell(row._data[column].to_json())
    return record


def _parents(idl: ovs_idl.Idl, tables: set[str]) -> dict[str, list[ovs_idl.Row]]:
    """Child UUID -> the parent rows whose strong reference column holds it."""
    out: dict[str, list[ovs_idl.Row]] = {}
    for ptable, pcolumn in {PARENTS[t] for t in tables if t in PARENTS}:
        for parent in idl.tables[ptable].rows.values():
            refs = decode_cell(parent._data[pcolumn].to_json())
            for ref in refs if isinstance(refs, list) else [refs]:
                out.setdefault(ref, []).append(parent)
    return out


def _name(row: ovs_idl.Row) -> str:
    name = decode_cell(row._data["name"].to_json())
    return name if isinstance(name, str) and name else str(row.uuid)


def _gone_text(reads: list[_Read]) -> str:
    gone = [r.request for r in reads if r.gone]
    return "already gone: " + ", ".join(
        f"{g.table} {g.uuid}" + (f" VIP {g.vip}" if g.vip is not None else "") for g in gone)


def _changed_text(changed: list[_Read], reads: list[_Read]) -> str:
    parts = [f"{r.request.table} {r.request.uuid} changed since it was planned: "
             f"{_describe(r.diffs)}" for r in changed]
    parts.append("nothing deleted")
    if any(r.gone for r in reads):
        parts.append(_gone_text(reads))
    return "; ".join(parts)


def _refusal(result: Any, waits: list[str]) -> str:
    """Which wait the server refused, and its words, from a transact reply."""
    ops = result if isinstance(result, list) else []
    for i, op in enumerate(ops):
        if isinstance(op, dict) and op.get("error"):
            what = f"wait on {waits[i]}" if i < len(waits) else f"operation {i + 1}"
            return f"{what}: {op['error']} ({op.get('details', 'no details')})"
    return "the transaction was refused without an error on any operation"


def _server_error(txn: ovs_idl.Transaction, reply: ovs.jsonrpc.Message | None) -> str:
    if reply is not None and reply.type == ovs.jsonrpc.Message.T_ERROR:
        return str(reply.error)
    text = txn.get_error()
    try:
        err = json.loads(text)
    except ValueError:
        return text
    if isinstance(err, dict) and "error" in err:
        return f"{err['error']}: {err.get('details', '')}".rstrip(": ")
    return text
