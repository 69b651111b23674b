"""Checking the audit chains: any edited, deleted or reordered entry breaks them."""

from __future__ import annotations

from dataclasses import dataclass

from alliance.audit.log import GENESIS, entry_hash
from alliance.audit.models import AuditEntry, ChainHead


@dataclass(frozen=True)
class Verdict:
    ok: bool
    checked: int
    chains: int
    broken_entry_id: int | None = None
    problem: str = ""

    def line(self) -> str:
        if self.ok:
            return f"OK: {self.checked} audit entries in {self.chains} chains verified"
        where = f"entry {self.broken_entry_id}" if self.broken_entry_id else "end of chain"
        return f"BROKEN at {where}: {self.problem}"


def verify_all() -> Verdict:
    heads = {head.chain: head for head in ChainHead.objects.all()}
    chains = sorted(set(heads) | set(AuditEntry.objects.values_list("chain", flat=True)))
    checked = 0
    for chain in chains:
        verdict = _verify_chain(chain, heads.get(chain))
        if not verdict.ok:
            return verdict
        checked += verdict.checked
    return Verdict(ok=True, checked=checked, chains=len(chains))


def _verify_chain(chain: int, head: ChainHead | None) -> Verdict:
    previous_hash = GENESIS
    expected_seq = 1
    entries = AuditEntry.objects.filter(chain=chain).order_by("pk")
    for entry in entries.iterator(chunk_size=2000):
        problem = _problem(entry, expected_seq, previous_hash)
        if problem:
            return Verdict(False, expected_seq - 1, 0, entry.pk, f"chain {chain}: {problem}")
        previous_hash = entry.hash
        expected_seq += 1
    last_seq = expected_seq - 1
    if head is None or head.seq != last_seq or head.hash != previous_hash:
        recorded = head.seq if head else "nothing"
        problem = f"chain {chain} ends at entry {last_seq} but its head records {recorded}"
        return Verdict(False, last_seq, 0, None, f"{problem} (entries removed from the end)")
    return Verdict(True, last_seq, 1)


def _problem(entry: AuditEntry, expected_seq: int, previous_hash: str) -> str:
    if entry.seq != expected_seq:
        return f"sequence {entry.seq} where {expected_seq} was expected (deleted or reordered)"
    if entry.prev_hash != previous_hash:
        return "does not follow the entry before it (deleted or reordered)"
    if entry_hash(entry) != entry.hash:
        return "content does not match its hash (edited)"
    return ""
