"""The record layout shared by every data set that ``data_generation`` writes.

One *example* is one stamp (isolated kind) or one blended pair (blended kind).
Images are float32 arrays of shape ``(stamp_size, stamp_size)`` in microJansky
per pixel (VIS pixels of 0.1 arcsec), so that the sum of a noiseless stamp is the
flux in microJansky of what it holds.

Field names are uniform across kinds: an isolated example carries a subset of the
fields of a blended example, so stage 1 of the training reads
(``central_noisy`` -> ``central_noiseless``) and stage 2 reads
(``blend_noisy`` -> ``central_noiseless``) from the same schema.

Bump :data:`SCHEMA_VERSION` whenever a field is added, removed or changes meaning.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Version of the record layout, stored in every manifest (``schema_version``) and bumped
#: whenever a field is added, removed or changes meaning; readers refuse other versions.
SCHEMA_VERSION = 1

KINDS = ("isolated", "blended")


@dataclass(frozen=True)
class Field:
    """One stored quantity.

    Attributes
    ----------
    name : str
        Key in the TFRecord example and in the numpy reader's dictionary.
    dtype : str
        ``"float32"``, ``"float64"`` or ``"int64"``.
    unit : str
        Physical unit, ``""`` for dimensionless quantities.
    description : str
        What the value is.
    """

    name: str
    dtype: str
    unit: str
    description: str


#: Image fields per kind. Shape ``(stamp_size, stamp_size)``, float32, uJy/pixel.
IMAGE_FIELDS: dict[str, tuple[Field, ...]] = {
    "isolated": (
        Field("central_noisy", "float32", "uJy/pixel", "central galaxy with Gaussian noise"),
        Field("central_noiseless", "float32", "uJy/pixel", "central galaxy, noiseless"),
    ),
    "blended": (
        Field("blend_noisy", "float32", "uJy/pixel", "central + neighbour + Gaussian noise"),
        Field(
            "central_noiseless", "float32", "uJy/pixel", "central galaxy, noiseless (the target)"
        ),
        Field("neighbour_noiseless", "float32", "uJy/pixel", "neighbour galaxy, noiseless"),
        Field(
            "central_noisy",
            "float32",
            "uJy/pixel",
            "central galaxy alone + the blend's noise field",
        ),
    ),
}

#: Truth stored for each galaxy, prefixed by its role (``central_`` / ``neighbour_``).
GALAXY_TRUTH: tuple[Field, ...] = (
    Field("id", "int64", "", "catalogue ID"),
    Field("redshift", "float64", "", "redshift"),
    Field("flux_uJy", "float64", "uJy", "catalogue VIS flux (bulge + disk)"),
    Field("stamp_flux_uJy", "float64", "uJy", "sum of the galaxy's noiseless stamp"),
    Field("mag_vis", "float64", "mag (AB)", "23.9 - 2.5 log10(flux_uJy)"),
    Field("bt_flux", "float64", "", "bulge-to-total flux ratio in VIS"),
    Field("disk_hlr_arcsec", "float64", "arcsec", "disk half-light radius (semi-major axis)"),
    Field("bulge_hlr_arcsec", "float64", "arcsec", "bulge half-light radius (semi-major axis)"),
    Field("disk_q", "float64", "", "disk axis ratio b/a"),
    Field("bulge_q", "float64", "", "bulge axis ratio b/a"),
    Field(
        "angle_deg", "float64", "deg", "position angle, counter-clockwise from the +x pixel axis"
    ),
    Field("offset_x_pix", "float64", "pixel", "galaxy centre minus stamp centre, x"),
    Field("offset_y_pix", "float64", "pixel", "galaxy centre minus stamp centre, y"),
)

#: Truth stored once per example.
EXAMPLE_TRUTH: dict[str, tuple[Field, ...]] = {
    "isolated": (
        Field("noise_sigma_uJy", "float64", "uJy/pixel", "standard deviation of the added noise"),
    ),
    "blended": (
        Field("noise_sigma_uJy", "float64", "uJy/pixel", "standard deviation of the added noise"),
        Field("neighbour_distance_arcsec", "float64", "arcsec", "centre-to-centre separation"),
        Field(
            "blendedness",
            "float64",
            "",
            "1 - sum(c^2) / sum(c * (c + n)), c and n the noiseless central and neighbour",
        ),
    ),
}

ROLES: dict[str, tuple[str, ...]] = {"isolated": ("central",), "blended": ("central", "neighbour")}


def truth_fields(kind: str) -> tuple[Field, ...]:
    """All scalar truth fields of a data set kind, role prefixes included.

    Parameters
    ----------
    kind : {"isolated", "blended"}

    Returns
    -------
    tuple of Field
    """
    check_kind(kind)
    fields = [
        Field(f"{role}_{f.name}", f.dtype, f.unit, f"{role}: {f.description}")
        for role in ROLES[kind]
        for f in GALAXY_TRUTH
    ]
    return tuple(fields) + EXAMPLE_TRUTH[kind]


def image_fields(kind: str) -> tuple[Field, ...]:
    """Image fields of a data set kind (float32, uJy/pixel, square stamps)."""
    check_kind(kind)
    return IMAGE_FIELDS[kind]


def all_fields(kind: str) -> tuple[Field, ...]:
    """Image fields followed by truth fields of a data set kind."""
    return image_fields(kind) + truth_fields(kind)


def check_kind(kind: str) -> None:
    """Raise ValueError unless ``kind`` is a known data set kind."""
    if kind not in KINDS:
        raise ValueError(f"unknown data set kind {kind!r}: expected one of {', '.join(KINDS)}")
