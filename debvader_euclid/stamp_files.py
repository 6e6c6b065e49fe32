"""Stamp cubes on disk: read FITS or ``.npy`` without loading them, write FITS in chunks.

A *stamp cube* is an array of shape ``(N, S, S)`` (or one ``(S, S)`` stamp) of VIS
pixels in uJy per 0.1 arcsec pixel, background subtracted, each stamp centred on
the galaxy to deblend. ``debvader-euclid deblend`` reads one with
:func:`open_stamp_cube`, a chunk at a time from the file, so that a cube of
millions of stamps is never held in memory, and writes its output with
:class:`FitsCubeWriter`, one chunk at a time, to a temporary name renamed into
place when complete (``benchmarks/deblend_memory.py`` measures the memory).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from types import TracebackType

import numpy as np
from astropy.io import fits

logger = logging.getLogger(__name__)

#: FITS ``BUNIT`` values read as microJansky per pixel (compared case-insensitively,
#: spaces removed).
MICROJANSKY_UNITS = frozenset(
    {"ujy", "ujy/pixel", "ujy/pix", "ujy/px", "microjy", "microjy/pixel", "µjy", "µjy/pixel"}
)

FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz", ".fit.gz")


def _is_fits(path: Path) -> bool:
    name = path.name.lower()
    return any(name.endswith(suffix) for suffix in FITS_SUFFIXES)


class StampCube:
    """Read-only ``(N, S, S)`` stamp cube on disk, read one chunk at a time.

    Made by :func:`open_stamp_cube`. Slicing reads only the stamps asked for (from
    the file, not through a memory map that would stay resident), so a pass over a
    cube of any size holds one chunk in memory.

    Attributes
    ----------
    path : pathlib.Path
    shape : tuple of int
        ``(N, S, S)``.
    dtype : numpy.dtype
        Dtype of the pixels in the file.
    """

    def __init__(self, path: Path, shape: tuple[int, int, int], dtype: np.dtype, reader) -> None:
        self.path = path
        self.shape = shape
        self.dtype = dtype
        self._reader = reader

    def __len__(self) -> int:
        return self.shape[0]

    def read(self, start: int, stop: int) -> np.ndarray:
        """Stamps ``start`` to ``stop - 1`` as a native float32 ``(k, S, S)`` array."""
        start, stop = max(0, int(start)), min(len(self), int(stop))
        if stop <= start:
            return np.zeros((0, *self.shape[1:]), dtype=np.float32)
        return np.asarray(self._reader(start, stop), dtype=np.float32)


def _npy_cube(path: Path) -> tuple[tuple[int, ...], np.dtype, object]:
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ValueError(f"{path}: .npy format version {version} is not supported")
        offset = f.tell()
    if fortran:
        raise ValueError(f"{path}: a Fortran-ordered array; save it in C order (np.save(a))")
    if dtype.hasobject:
        raise ValueError(f"{path}: an object array; stamps must be real numbers")
    per_stamp = int(np.prod(shape[1:])) if len(shape) == 3 else int(np.prod(shape))

    def reader(start: int, stop: int) -> np.ndarray:
        with open(path, "rb") as f:
            f.seek(offset + start * per_stamp * dtype.itemsize)
            flat = np.fromfile(f, dtype=dtype, count=(stop - start) * per_stamp)
        return flat.reshape((stop - start, *shape[-2:]))

    return tuple(shape), dtype, reader


def _fits_cube(path: Path) -> tuple[tuple[int, ...], np.dtype, object, str]:
    hdul = fits.open(path, memmap=False, lazy_load_hdus=False)
    hdu = next((h for h in hdul if h.is_image and h.header.get("NAXIS", 0) >= 2), None)
    if hdu is None:
        raise ValueError(f"{path} has no image HDU: expected a 2-D stamp or a 3-D cube of stamps")
    unit = str(hdu.header.get("BUNIT", "")).strip()
    if unit and unit.replace(" ", "").lower() not in MICROJANSKY_UNITS:
        raise ValueError(
            f"{path}: BUNIT is {unit!r}, expected microJansky per pixel ('uJy'); convert "
            "the stamps to uJy/pixel (VIS AB zero point 23.9) first"
        )
    if not unit:
        logger.info("%s has no BUNIT: reading its pixels as uJy/pixel", path)
    shape = tuple(int(n) for n in hdu.shape)
    section = hdu.section  # reads the requested part of the file only
    dtype = np.dtype(section[tuple(slice(0, 1) for _ in shape)].dtype)
    if len(shape) == 2:

        def reader(start: int, stop: int) -> np.ndarray:
            return section[:, :][None]

    else:

        def reader(start: int, stop: int) -> np.ndarray:
            return section[start:stop]

    return shape, dtype, reader, f"{path}[{hdul.index_of(hdu)}]"


def open_stamp_cube(path: str | os.PathLike) -> StampCube:
    """Open a stamp cube for reading in chunks.

    Parameters
    ----------
    path : path-like
        A FITS file (the first HDU holding a 2-D or 3-D image: ``(S, S)`` or
        ``(N, S, S)`` in numpy order, i.e. ``NAXIS1 = NAXIS2 = S``, ``NAXIS3 = N``;
        gzip-compressed files are read whole) or a ``.npy`` file with such an array.
        Pixels in uJy/pixel: a FITS ``BUNIT`` other than microJansky is refused;
        without ``BUNIT`` microJansky is assumed (and logged).

    Returns
    -------
    StampCube
        ``len(cube)`` stamps; ``cube.read(i, j)`` gives stamps ``i`` to ``j - 1``
        as float32.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        An unknown suffix, a FITS file without an image HDU, a ``BUNIT`` that is
        not microJansky, or an array that is not 2-D or 3-D with square stamps of
        real numbers.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no stamp file at {path}")
    if path.suffix.lower() == ".npy":
        shape, dtype, reader = _npy_cube(path)
        source = str(path)
    elif _is_fits(path):
        shape, dtype, reader, source = _fits_cube(path)
    else:
        raise ValueError(
            f"{path}: unknown stamp file type; give a FITS file ({', '.join(FITS_SUFFIXES)}) "
            "or a .npy file"
        )
    if len(shape) not in (2, 3):
        raise ValueError(f"{source}: expected a (S, S) stamp or an (N, S, S) cube, got {shape}")
    if len(shape) == 2:
        shape = (1, *shape)
    if shape[1] != shape[2]:
        raise ValueError(f"{source}: stamps must be square, got {shape[1]}x{shape[2]}")
    if not np.issubdtype(dtype, np.number) or np.issubdtype(dtype, np.complexfloating):
        raise ValueError(f"{source}: pixels must be real numbers, got dtype {dtype}")
    return StampCube(path, shape, dtype, reader)


class FitsCubeWriter:
    """Write an ``(N, S, S)`` float32 cube to a FITS file chunk by chunk, atomically.

    The data go to ``<path>.tmp`` through :class:`astropy.io.fits.StreamingHDU`; the
    file is renamed to ``path`` when all ``N`` stamps are written, and removed if
    the ``with`` block fails, so ``path`` is either complete or untouched.

    Parameters
    ----------
    path : path-like
        Output FITS file.
    n_stamps, stamp_size : int
        Cube shape ``(n_stamps, stamp_size, stamp_size)``; ``stamp_size`` in pixels.
    header : dict, optional
        Extra header cards (``KEY: value`` or ``KEY: (value, comment)``).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        n_stamps: int,
        stamp_size: int,
        header: dict | None = None,
    ) -> None:
        self.path = Path(path)
        self.tmp = self.path.with_name(self.path.name + ".tmp")
        self.n_stamps = int(n_stamps)
        self.stamp_size = int(stamp_size)
        hdr = fits.Header()
        hdr["SIMPLE"] = True
        hdr["BITPIX"] = -32
        hdr["NAXIS"] = 3
        hdr["NAXIS1"] = self.stamp_size
        hdr["NAXIS2"] = self.stamp_size
        hdr["NAXIS3"] = self.n_stamps
        hdr["BUNIT"] = ("uJy", "microJansky per 0.1 arcsec VIS pixel")
        for key, value in (header or {}).items():
            hdr[key] = value
        self._header = hdr
        self._stream: fits.StreamingHDU | None = None
        self.written = 0

    def __enter__(self) -> FitsCubeWriter:
        self.tmp.unlink(missing_ok=True)
        self._stream = fits.StreamingHDU(self.tmp, self._header)
        return self

    def write(self, chunk: np.ndarray) -> None:
        """Append ``(k, S, S)`` stamps (converted to big-endian float32)."""
        chunk = np.asarray(chunk, dtype=np.float32)
        if chunk.ndim != 3 or chunk.shape[1:] != (self.stamp_size, self.stamp_size):
            raise ValueError(
                f"chunk of shape {chunk.shape}, expected (k, {self.stamp_size}, {self.stamp_size})"
            )
        if self.written + len(chunk) > self.n_stamps:
            raise ValueError(f"more than the {self.n_stamps} stamps announced in the header")
        assert self._stream is not None, "use FitsCubeWriter in a with block"
        self._stream.write(chunk.astype(">f4"))
        self.written += len(chunk)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._stream is not None:
            self._stream.close()
        if exc_type is None and self.written != self.n_stamps:
            self.tmp.unlink(missing_ok=True)
            raise ValueError(f"wrote {self.written} of {self.n_stamps} stamps")
        if exc_type is not None:
            self.tmp.unlink(missing_ok=True)
            return
        os.replace(self.tmp, self.path)
