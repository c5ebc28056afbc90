"""A second report section for the tests of ``--only`` (see toy_section)."""

from toy_section import OTHER as SECTION  # noqa: F401
