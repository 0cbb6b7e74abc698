"""One BLAS thread for the linkage state's matrix products.

The space-time core and the linker multiply small matrices (a raster blurred as two
products, scene rows against time-of-day factors, feature rows against the model's
weights). OpenBLAS starts a thread per core and splits such products between them,
and its threads spin while they wait for the next one. Beside the pipeline on a
2-core machine run the journal's writer thread, the companion search and the worker
validating batches ahead (:mod:`ingest.ahead`); a BLAS thread spinning on the second
core takes that core from them, and a product waits for a core that is busy. Measured
on this 2-core VM with other work running, ``bench.stream``'s 303 k messages took
10.5-15.4 s with two BLAS threads and 6.3-6.5 s with one.

It also makes the results independent of the machine: how a product is split between
threads changes the last bits of a sum, so link features computed on a 16-core server
differed in their last bits from a laptop's. With one thread they are the same
everywhere.
"""

from __future__ import annotations

import logging

import numpy  # noqa: F401  # loads the BLAS library that is to be limited
from threadpoolctl import threadpool_limits

__all__ = ["one_blas_thread"]

log = logging.getLogger(__name__)

_limited = False


def one_blas_thread() -> None:
    """Limit every loaded BLAS library of this process to one thread (idempotent; for the
    process's lifetime: whatever computes linkage state in it computes it the same way)."""
    global _limited
    if _limited:
        return
    # threadpoolctl limits the libraries loaded by now: numpy's BLAS is, with numpy
    threadpool_limits(limits=1, user_api="blas")
    _limited = True
    log.debug("BLAS limited to one thread in this process")
