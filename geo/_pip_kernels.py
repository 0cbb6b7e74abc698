"""Numba kernels behind :mod:`geo.lookup`: a cell grid over the province plus per-row edge buckets.

Layout of the index (all numpy arrays, no Python objects):

* a regular lon/lat grid of ``nx * ny`` cells of ``d`` degrees; ``cell_code[c]`` is the
  county *position* (0..K-1) when the whole cell lies in one county, ``-1`` outside
  every county, and ``-(2 + b)`` for boundary cell ``b`` (a cell some county edge
  passes through);
* for boundary cell ``b`` the candidate counties ``cand_idx[cand_ptr[b]:cand_ptr[b+1]]``
  in ascending adcode order;
* for county ``k`` and grid row ``r`` the edges whose latitude span meets that row,
  ``edge_idx[row_ptr[k*ny + r]:row_ptr[k*ny + r + 1]]``, so an exact
  point-in-polygon test scans only a few dozen edges.

The exact test is even-odd ray casting over all rings of the county; a point
lying exactly on an edge counts as inside, and the first candidate (smallest
adcode) that holds a point owns it, so border points get a deterministic owner.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["boundary_pairs", "row_pairs", "fill_rows", "lookup"]


@njit(cache=True)
def _in_county(px, py, k, row, ny, row_ptr, edge_idx, x1, y1, x2, y2):  # noqa: ANN001, ANN202
    lo = row_ptr[k * ny + row]
    hi = row_ptr[k * ny + row + 1]
    inside = False
    for j in range(lo, hi):
        e = edge_idx[j]
        ax = x1[e]
        ay = y1[e]
        bx = x2[e]
        by = y2[e]
        # on the edge itself: inside
        if (
            min(ay, by) <= py <= max(ay, by)
            and min(ax, bx) <= px <= max(ax, bx)
            and (bx - ax) * (py - ay) - (by - ay) * (px - ax) == 0.0
        ):
            return True
        if (ay > py) != (by > py):
            xi = ax + (py - ay) * (bx - ax) / (by - ay)
            if px < xi:
                inside = not inside
    return inside


@njit(cache=True)
def boundary_pairs(county_of_edge, x1, y1, x2, y2, x0, y0, d, nx, ny):  # noqa: ANN001, ANN201
    """(cell, county) for every grid cell each edge's bounding box touches (conservative)."""
    n = county_of_edge.shape[0]
    count = 0
    for e in range(n):
        c0 = int((min(x1[e], x2[e]) - x0) / d)
        c1 = int((max(x1[e], x2[e]) - x0) / d)
        r0 = int((min(y1[e], y2[e]) - y0) / d)
        r1 = int((max(y1[e], y2[e]) - y0) / d)
        count += (c1 - c0 + 1) * (r1 - r0 + 1)
    cells = np.empty(count, dtype=np.int64)
    counties = np.empty(count, dtype=np.int64)
    i = 0
    for e in range(n):
        c0 = int((min(x1[e], x2[e]) - x0) / d)
        c1 = int((max(x1[e], x2[e]) - x0) / d)
        r0 = int((min(y1[e], y2[e]) - y0) / d)
        r1 = int((max(y1[e], y2[e]) - y0) / d)
        for r in range(r0, r1 + 1):
            for c in range(c0, c1 + 1):
                cells[i] = r * nx + c
                counties[i] = county_of_edge[e]
                i += 1
    return cells, counties


@njit(cache=True)
def row_pairs(county_of_edge, y1, y2, y0, d, ny):  # noqa: ANN001, ANN201
    """(county*ny + row, edge) for every grid row each edge's latitude span meets."""
    n = county_of_edge.shape[0]
    count = 0
    for e in range(n):
        count += int((max(y1[e], y2[e]) - y0) / d) - int((min(y1[e], y2[e]) - y0) / d) + 1
    keys = np.empty(count, dtype=np.int64)
    edges = np.empty(count, dtype=np.int64)
    i = 0
    for e in range(n):
        r0 = int((min(y1[e], y2[e]) - y0) / d)
        r1 = int((max(y1[e], y2[e]) - y0) / d)
        for r in range(r0, r1 + 1):
            keys[i] = county_of_edge[e] * ny + r
            edges[i] = e
            i += 1
    return keys, edges


@njit(cache=True)
def fill_rows(cell_code, nx, ny, k_count, x0, y0, d, row_ptr, edge_idx, x1, y1, x2, y2):  # noqa: ANN001, ANN201
    """Give every non-boundary cell its county: one exact test per run of such cells in a row."""
    for r in range(ny):
        cy = y0 + (r + 0.5) * d
        current = -1
        fresh = True
        for c in range(nx):
            cell = r * nx + c
            if cell_code[cell] <= -2:
                fresh = True
                continue
            if fresh:
                cx = x0 + (c + 0.5) * d
                current = -1
                for k in range(k_count):
                    if _in_county(cx, cy, k, r, ny, row_ptr, edge_idx, x1, y1, x2, y2):
                        current = k
                        break
                fresh = False
            cell_code[cell] = current


@njit(cache=True)
def lookup(
    lons,
    lats,
    x0,
    y0,
    d,
    nx,
    ny,
    cell_code,
    cand_ptr,
    cand_idx,
    codes,  # noqa: ANN001, ANN201
    row_ptr,
    edge_idx,
    x1,
    y1,
    x2,
    y2,
    out,
):
    """County adcode for each point (0 outside)."""
    for i in range(lons.shape[0]):
        px = lons[i]
        py = lats[i]
        fc = (px - x0) / d
        fr = (py - y0) / d
        if fc < 0.0 or fr < 0.0 or fc >= nx or fr >= ny:
            out[i] = 0
            continue
        c = int(fc)
        r = int(fr)
        code = cell_code[r * nx + c]
        if code >= 0:
            out[i] = codes[code]
        elif code == -1:
            out[i] = 0
        else:
            b = -code - 2
            out[i] = 0
            for j in range(cand_ptr[b], cand_ptr[b + 1]):
                k = cand_idx[j]
                if _in_county(px, py, k, r, ny, row_ptr, edge_idx, x1, y1, x2, y2):
                    out[i] = codes[k]
                    break
    return out
