"""A SoftHSM2 token for the PKCS#11 tests (issue 20): one per test process.

SoftHSM reads ``SOFTHSM2_CONF`` when the module is first initialised, and a process
initialises a PKCS#11 module once, so the configuration and its token folder are made
once per process in a temporary folder and kept for the whole run.  ``.ci/run`` installs
Debian's ``softhsm2``; without it these tests fail (they are not skipped).
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
PIN = "246810"
SO_PIN = "13579111"


@dataclass(frozen=True)
class Token:
    label: str
    module: str
    pin: str

    def uri(self, obj: str, *, pin: bool = False) -> str:
        query = f"module-path={self.module}" + (f"&pin-value={self.pin}" if pin else "")
        return f"pkcs11:token={self.label};object={obj}?{query}"


#: Every token the tests use, made together: a token made after the module is loaded in
#: this process would not be seen by it.
LABELS = ("avsec-test", "avsec-pin-test", "avsec-state", "avsec-server")
_TOKENS: dict[str, Token] = {}


def softhsm_token(label: str = "avsec-test") -> Token:
    """An initialised token named ``label`` (one of ``LABELS``) in this process's store."""
    assert label in LABELS, label
    if not _TOKENS:
        _setup()
    return _TOKENS[label]


def _setup() -> None:
    util = shutil.which("softhsm2-util")
    assert util is not None and Path(MODULE).exists(), "softhsm2 is not installed"
    if "AVSEC_SOFTHSM_DIR" not in os.environ:
        root = Path(tempfile.mkdtemp(prefix="avsec-softhsm-"))
        atexit.register(shutil.rmtree, root, True)
        (root / "tokens").mkdir()
        conf = root / "softhsm2.conf"
        conf.write_text(
            f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\n"
            "log.level = ERROR\nslots.removable = false\n",
            encoding="utf-8",
        )
        os.environ["SOFTHSM2_CONF"] = str(conf)
        os.environ["AVSEC_SOFTHSM_DIR"] = str(root)
    for label in LABELS:
        subprocess.run(
            [util, "--init-token", "--free", "--label", label, "--so-pin", SO_PIN, "--pin", PIN],
            check=True,
            capture_output=True,
            timeout=60,
        )
        _TOKENS[label] = Token(label, MODULE, PIN)
