"""Opens a run's series.xmf with ParaView (pvbatch) and checks that it sees the twin's grid and
fields as series.h5 holds them: one cell per twin cell, the grid's extent, every value of each
cell field in its cell (issue 18: a CoRectMesh's Dimensions count points, not cells).

ParaView's XDMF readers put a 2DCoRectMesh in the y-z plane (its first axis has one point), so
the axes are compared in order after leaving out the degenerate one.

Usage: pvbatch check_xdmf.py RUN_DIR CELLS_X CELLS_Y [CELLS_Z] EXTENT_X EXTENT_Y [EXTENT_Z]
"""
import sys

import h5py
import numpy as np
from paraview import servermanager
from paraview.simple import UpdatePipeline, XDMFReader
from vtk.util.numpy_support import vtk_to_numpy


def main():
    run_dir = sys.argv[1]
    numbers = [float(a) for a in sys.argv[2:]]
    dims = len(numbers) // 2
    cells = [int(n) for n in numbers[:dims]]
    extent = numbers[dims:]
    reader = XDMFReader(FileNames=[f"{run_dir}/series.xmf"])  # what ParaView opens .xmf with
    reader.CellArrayStatus = ["mean", "spread"]  # pvbatch selects no array by default; the GUI all
    times = list(reader.TimestepValues) if hasattr(reader.TimestepValues, "__len__") else [reader.TimestepValues]
    with h5py.File(f"{run_dir}/series.h5", "r") as h5:
        stored_times = h5["/fields/time_s"][:]
        means = h5["/fields/mean"][:]
        spreads = h5["/fields/spread"][:]
    if len(times) != len(stored_times) or not np.allclose(times, stored_times):
        sys.exit(f"time steps: ParaView sees {times}, series.h5 holds {list(stored_times)}")
    failures = []
    for k, t in enumerate(times):
        UpdatePipeline(time=t, proxy=reader)
        data = servermanager.Fetch(reader)
        if data.IsA("vtkMultiBlockDataSet"):
            data = data.GetBlock(0)
        n_cells = int(np.prod(cells))
        if data.GetNumberOfCells() != n_cells:
            failures.append(f"t={t}: {data.GetNumberOfCells()} cells, the twin has {n_cells} ({' x '.join(map(str, cells))})")
        points = [n for n in data.GetDimensions() if n > 1]
        if points != [n + 1 for n in cells]:
            failures.append(f"t={t}: {data.GetDimensions()} points per axis, the twin's cells are {cells}")
        bounds = data.GetBounds()
        spans = [(bounds[2 * a], bounds[2 * a + 1]) for a in range(3) if data.GetDimensions()[a] > 1]
        for d, (lo, hi) in enumerate(spans[:dims]):
            # ParaView stores coordinates in single precision
            if abs(lo) > 1e-6 or abs(hi - extent[d]) > 1e-6 * max(1.0, extent[d]):
                failures.append(f"t={t}: axis {d} spans [{lo}, {hi}], the twin's extent is [0, {extent[d]}]")
        for name, stored in (("mean", means[k]), ("spread", spreads[k])):
            array = data.GetCellData().GetArray(name)
            if array is None:
                failures.append(f"t={t}: no cell field '{name}'")
                continue
            seen = vtk_to_numpy(array)
            want = stored.reshape(-1)  # (z,) y, x in the file: x fastest, as VTK orders cells
            if seen.shape != want.shape:
                failures.append(f"t={t}: '{name}' has {seen.shape[0]} values, series.h5 {want.shape[0]}")
            elif not np.array_equal(seen, want):
                bad = int(np.sum(seen != want))
                failures.append(f"t={t}: '{name}' differs from series.h5 in {bad} of {want.size} cells")
    if failures:
        print("\n".join(failures))
        sys.exit(1)
    print(f"ParaView reads series.xmf: {len(times)} time steps of {' x '.join(map(str, cells))} cells, "
          f"fields equal to series.h5")


main()
