"""A built relustep carries its data; CI runs the README's test command word for word.

CI also builds the wheel, installs it into a fresh virtual environment and runs the commands
from another folder (``.ci/run``); here the same build step runs into a temporary folder.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from relustep.datasets._registry import ENTRIES

ROOT = Path(__file__).resolve().parent.parent


def test_the_build_copies_data_into_the_package_and_an_install_reads_it_there(tmp_path):
    build = tmp_path / "lib"
    subprocess.run(
        [sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(build)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )
    data = build / "relustep" / "_data"
    shipped = {entry.file for entry in ENTRIES} | {"README"}
    assert shipped <= {path.name for path in data.iterdir()}
    assert not (data / "build.py").exists()  # the script that rebuilds the data stays behind
    script = textwrap.dedent(
        """
        import os, sys
        from pathlib import Path
        import relustep
        from relustep import datasets
        from relustep.datasets._loaders import data_folder
        assert Path(relustep.__file__).parent == Path(sys.argv[1]) / "relustep"
        assert data_folder() == Path(sys.argv[1]) / "relustep" / "_data"
        for name in datasets.names():
            datasets.load(name)  # each file's sha256 is checked
        os.environ["RELUSTEP_DATA"] = sys.argv[2]
        assert data_folder() == Path(sys.argv[2])
        print("ok")
        """
    )
    unset = ("PYTHONPATH", "RELUSTEP_DATA")
    environment = {key: value for key, value in os.environ.items() if key not in unset}
    site_packages = [path for path in sys.path if path.endswith("site-packages")]
    environment["PYTHONPATH"] = os.pathsep.join([str(build), *site_packages])
    result = subprocess.run(
        [sys.executable, "-c", script, str(build), str(ROOT / "data")],
        cwd=tmp_path,  # another folder than the checkout
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_ci_runs_the_readme_test_command_word_for_word():
    readme = (ROOT / "README.rst").read_text()
    command = next(
        line.strip()
        for line in readme.splitlines()
        if 'pip install -e ".[test]"' in line and "pytest" in line
    )
    ci_commands = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith(("#", "set ", "cd ", "export "))
    ]
    assert ci_commands[0] == command
