"""featd_build — the PEP 517 build backend of the featd Python client.

Writes the wheel (and the sdist) with zipfile/tarfile from the standard
library, so `pip install ./client/python` works offline: pip's isolated
build environment needs nothing installed (setuptools included). The
package is pure Python: featd/*.py, nothing compiled. Metadata mirrors
pyproject.toml's [project] table (kept in step by tests/test_wire.py).
"""

import base64
import hashlib
import io
import os
import tarfile
import zipfile

NAME = "featd"
VERSION = "0.1.0"
HERE = os.path.dirname(os.path.abspath(__file__))
METADATA = """Metadata-Version: 2.1
Name: featd
Version: {v}
Summary: Python client of featd, the online feature server
Requires-Python: >=3.9
Requires-Dist: protobuf>=3.20
Provides-Extra: numpy
Requires-Dist: numpy; extra == "numpy"
Provides-Extra: pandas
Requires-Dist: pandas; extra == "pandas"
Description-Content-Type: text/markdown

""".format(v=VERSION)
WHEEL = "Wheel-Version: 1.0\nGenerator: featd_build\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
TAG = "py3-none-any"


def _package_files():
    pkg = os.path.join(HERE, NAME)
    return sorted(os.path.join(NAME, f) for f in os.listdir(pkg) if f.endswith(".py"))


def _readme():
    with open(os.path.join(HERE, "README.md"), encoding="utf-8") as f:
        return f.read()


def _record_line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (path, digest, len(data))


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    dist_info = "%s-%s.dist-info" % (NAME, VERSION)
    name = "%s-%s-%s.whl" % (NAME, VERSION, TAG)
    records = []
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w", zipfile.ZIP_DEFLATED) as z:
        def add(arcname, data):
            z.writestr(arcname, data)
            records.append(_record_line(arcname, data))
        for rel in _package_files():
            with open(os.path.join(HERE, rel), "rb") as f:
                add(rel.replace(os.sep, "/"), f.read())
        add(dist_info + "/METADATA", (METADATA + _readme()).encode())
        add(dist_info + "/WHEEL", WHEEL.encode())
        add(dist_info + "/top_level.txt", (NAME + "\n").encode())
        records.append(dist_info + "/RECORD,,")
        z.writestr(dist_info + "/RECORD", "\n".join(records) + "\n")
    return name


def build_sdist(sdist_directory, config_settings=None):
    base = "%s-%s" % (NAME, VERSION)
    name = base + ".tar.gz"
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz") as t:
        for rel in _package_files() + ["pyproject.toml", "featd_build.py", "README.md"]:
            t.add(os.path.join(HERE, rel), arcname=base + "/" + rel)
        info = (METADATA + _readme()).encode()
        ti = tarfile.TarInfo(base + "/PKG-INFO")
        ti.size = len(info)
        t.addfile(ti, io.BytesIO(info))
    return name
