# Regenerates the .npy fixtures of tests/test_npy.cpp with real NumPy (run once; the files are
# committed so that the tests need no Python): /usr/bin/python3 make_fixtures.py
import numpy as np
from numpy.lib import format as npformat


def save_version(name, array, version):
    with open(name, "wb") as f:
        npformat.write_array(f, array, version=version)


np.save("f4_2x3.npy", (np.arange(6, dtype="<f4").reshape(2, 3) * 0.5 - 1.0))
np.save("f8_4.npy", np.array([0.1, -2.5, 3.0, 1e-300], dtype="<f8"))
np.save("i4_2x2x2.npy", (np.arange(8, dtype="<i4") - 3).reshape(2, 2, 2))
np.save("i8_labels_5.npy", np.array([0, 2, 1, 2, 0], dtype="<i8"))
np.save("f8_integral_3.npy", np.array([0.0, 1.0, 7.0], dtype="<f8"))
np.save("f8_scalar.npy", np.array(3.25, dtype="<f8"))
np.save("f4_empty_0x3.npy", np.zeros((0, 3), dtype="<f4"))
np.save("f4_1x2x1x3.npy", np.arange(6, dtype="<f4").reshape(1, 2, 1, 3))
save_version("f4_v2_4.npy", np.array([1.5, -0.25, 8.0, 0.0], dtype="<f4"), (2, 0))
save_version("i8_v3_2x2.npy", np.array([[1, -2], [3, 2**40]], dtype="<i8"), (3, 0))
# Files the reader must reject.
np.save("bad_fortran_2x3.npy", np.asfortranarray(np.arange(6, dtype="<f4").reshape(2, 3)))
np.save("bad_big_endian.npy", np.arange(3, dtype=">f4"))
np.save("bad_complex.npy", np.arange(2, dtype="<c8"))
np.save("bad_rank5.npy", np.zeros((1, 1, 1, 1, 2), dtype="<f4"))
np.save("bad_object.npy", np.array([1, "a"], dtype=object), allow_pickle=True)
