"""IP blocks' and pools' usage as JSON: what ``sdn ipam -o json`` prints and the web page
shows (one function, so both say the same)."""

from __future__ import annotations

from typing import Any

from sdn.ipam import BlockUsage, PoolUsage


def block_json(b: BlockUsage, show_blocks: bool) -> dict[str, Any]:
    """One block: size, carved, held and free addresses; with ``show_blocks`` each carved
    subnet with its pool, owner and use."""
    out: dict[str, Any] = {"path": b.path, "cidr": str(b.cidr), "total": b.total,
                           "carved": b.used, "held": b.held_addresses, "free": b.free,
                           "subnets": len(b.carved)}
    if show_blocks:
        out["carved_subnets"] = [{"cidr": str(s.cidr), "pool_path": s.pool_path,
                                  "owner": s.owner, "allocated": s.allocated,
                                  "capacity": s.capacity} for s in b.carved]
    return out


def pool_json(p: PoolUsage) -> dict[str, Any]:
    """One pool: its kind (``static`` or ``block``), owner, subnets and use."""
    return {"path": p.path, "kind": p.kind, "owner": p.owner,
            "cidrs": [str(c) for c in p.cidrs], "capacity": p.capacity,
            "allocated": p.allocated, "held": p.held, "free": p.free}


def usage_json(blocks: list[BlockUsage], pools: list[PoolUsage], *,
               show_blocks: bool) -> dict[str, Any]:
    """``{"blocks": [...], "pools": [...]}``."""
    return {"blocks": [block_json(b, show_blocks) for b in blocks],
            "pools": [pool_json(p) for p in pools]}
