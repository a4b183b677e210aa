"""What the data-plane tests share: the root check, and the samples' inventories that the
pure tests (layout, plan) run on."""

import pytest

from sdn.model import Inventory
from tests.support.cli_runs import sample_inventory
from tests.support.dataplane import needs_root_dataplane

__all__ = ["inventory", "needs_root_dataplane"]

#: The samples the pure layout and plan tests run on.
SAMPLES = ["guestbook", "multi-tenant", "lb-heavy"]


@pytest.fixture(scope="module", params=SAMPLES)
def inventory(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
              ) -> Inventory:
    """A sample synced into a state of its own, read back whole (once per module)."""
    return sample_inventory(tmp_path_factory.mktemp(request.param), request.param)
