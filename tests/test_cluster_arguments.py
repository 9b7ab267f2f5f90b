"""``data_parallel``'s cluster arguments are checked before anything connects: a
coordinator without a port, or not HOST:PORT, fails with a ``ValueError`` naming HOST:PORT
on any backend (the check runs before the JAX requirement)."""

import pytest

from keras_angular.distribution import data_parallel


@pytest.mark.backends
@pytest.mark.parametrize(
    "coordinator",
    ["10.0.0.1:", "10.0.0.1", ":1234", "10.0.0.1:12a4", "10.0.0.1:123456", "host :1", 1234],
)
def test_coordinator_must_be_host_and_port(coordinator):
    with pytest.raises(ValueError, match="HOST:PORT"):
        data_parallel(coordinator, 2, 0)


@pytest.mark.backends
@pytest.mark.parametrize(
    "num_processes, process_id, match",
    [(0, 0, "num_processes"), (2, -1, "process_id"), (2, 2, r"\[0, 2\)"), (True, 0, "int")],
)
def test_process_count_and_index_are_checked(num_processes, process_id, match):
    with pytest.raises(ValueError, match=match):
        data_parallel("10.0.0.1:1234", num_processes, process_id)
