"""Bundle integrity: a modified, damaged, incomplete or foreign model bundle is refused at load.

Why it matters: every prediction a lab shows comes from the weights and tables in the bundle, and the model card
(validation, reliability badges) is only true for the exact files it was computed with. ``load_bundle`` checks the
manifest (format, version) and the sha256 of every file it lists, loads weights with ``weights_only=True`` (no
pickled code) and checks the shapes agree; any problem is a ``BundleError`` whose message names the file and the
problem. Each case below damages a private copy of the shipped bundle (``assets/models/default``; or
``$NEURIX_BUNDLE``) and checks the refusal and its message, through the API, the CLI and the dashboard.

What the manifest cannot do (documented, see ``test_a_re_signed_manifest_is_trusted``): it is not signed, so
someone who can write to the bundle directory can edit a file *and* its recorded checksum. Deployments that need
authenticity pin the manifest's own sha256 outside the bundle (proposed to the lead: ``NEURIX_BUNDLE_SHA256``).
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from neurix_core import cli  # noqa: E402
from neurix_core.api import Neurix  # noqa: E402
from neurix_core.errors import BundleError  # noqa: E402
from neurix_core.model.bundle import DEFAULT_BUNDLE, REQUIRED_FILES, load_bundle  # noqa: E402

Edit = Callable[[Path], None]


def source_bundle() -> Path:
    """The bundle the app serves: ``$NEURIX_BUNDLE`` when set, else the shipped default."""
    return Path(os.environ.get("NEURIX_BUNDLE") or DEFAULT_BUNDLE)


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One private copy per module (the shipped bundle may be replaced while tests run); it must load."""
    target = tmp_path_factory.mktemp("bundle") / "snapshot"
    shutil.copytree(source_bundle(), target)
    load_bundle(target)
    return target


@pytest.fixture
def bundle(snapshot: Path, tmp_path: Path) -> Path:
    """A fresh copy for one test to damage (~20 MB: a copy is faster than loading)."""
    return Path(shutil.copytree(snapshot, tmp_path / "bundle"))


def _manifest(bundle: Path) -> dict:
    return json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))


def _write_manifest(bundle: Path, manifest: object) -> None:
    (bundle / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")


def _edit_manifest(change: Callable[[dict], object]) -> Edit:
    """Change the manifest in place (``change``'s return value is ignored) and write it back."""

    def edit(bundle: Path) -> None:
        manifest = _manifest(bundle)
        change(manifest)
        _write_manifest(bundle, manifest)

    return edit


def _re_sign(bundle: Path, *names: str) -> None:
    """Record the current sha256 of ``names`` in the manifest, as a deliberate tamperer would."""
    manifest = _manifest(bundle)
    for name in names:
        manifest["files"][name] = hashlib.sha256((bundle / name).read_bytes()).hexdigest()
    _write_manifest(bundle, manifest)


def _flip_byte(name: str, where: float = 0.5) -> Edit:
    def edit(bundle: Path) -> None:
        path = bundle / name
        data = bytearray(path.read_bytes())
        i = int(len(data) * where)
        data[i] ^= 0x01
        path.write_bytes(bytes(data))

    return edit


def _truncate(name: str) -> Edit:
    def edit(bundle: Path) -> None:
        path = bundle / name
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])

    return edit


def _edit_drug_table(bundle: Path) -> None:
    """A plausible hand edit: make the first drug look better validated than it was."""
    lines = (bundle / "drugs.csv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    assert "cv_rho" in header
    lines[1] = lines[1] + " "  # any change at all, even whitespace, is a different file
    (bundle / "drugs.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


# name → (damage, regular expression the BundleError message must match)
CASES: dict[str, tuple[Edit, str]] = {
    "weights_one_byte_changed": (
        _flip_byte("weights.pt"),
        r"weights\.pt does not match its recorded checksum",
    ),
    "weights_last_byte_changed": (_flip_byte("weights.pt", 0.9999999), r"weights\.pt does not match"),
    "weights_truncated": (_truncate("weights.pt"), r"weights\.pt does not match its recorded checksum"),
    "drugs_csv_edited": (_edit_drug_table, r"drugs\.csv does not match its recorded checksum"),
    "arrays_one_byte_changed": (_flip_byte("arrays.npz"), r"arrays\.npz does not match"),
    "genes_one_byte_changed": (_flip_byte("genes.txt"), r"genes\.txt does not match"),
    "validation_one_byte_changed": (_flip_byte("validation.json"), r"validation\.json does not match"),
    "weights_missing": (
        lambda b: (b / "weights.pt").unlink(),
        r"weights\.pt is missing; the bundle is incomplete",
    ),
    "drugs_missing": (
        lambda b: (b / "drugs.csv").unlink(),
        r"drugs\.csv is missing; the bundle is incomplete",
    ),
    "foreign_format": (
        _edit_manifest(lambda m: m.update(format="other-model-zoo")),
        r"is not a Neurix model bundle \(foreign manifest\)",
    ),
    "future_format_version": (
        _edit_manifest(lambda m: m.update(format_version=3)),
        r"bundle format version 3 is not supported by this Neurix .*reads versions 1, 2.*retrain or upgrade",
    ),
    "format_version_missing": (
        _edit_manifest(lambda m: m.pop("format_version")),
        r"bundle format version None is not supported",
    ),
    "format_version_as_text": (
        _edit_manifest(lambda m: m.update(format_version="1")),
        r"bundle format version 1 is not supported",
    ),
    "manifest_not_json": (
        lambda b: (b / "manifest.json").write_bytes(b'{"format": "neurix-bundle", '),
        r"manifest\.json: the manifest is damaged",
    ),
    "manifest_not_utf8": (
        lambda b: (b / "manifest.json").write_bytes(b"\xff\xfe\x00garbage"),
        r"the manifest is damaged",
    ),
    "manifest_is_a_list": (
        lambda b: _write_manifest(b, [{"format": "neurix-bundle"}]),
        r"foreign manifest",
    ),
    "manifest_without_checksums": (_edit_manifest(lambda m: m.pop("files")), r"lists no file checksums"),
    "manifest_checksums_not_a_mapping": (
        _edit_manifest(lambda m: m.update(files=["weights.pt"])),
        r"lists no file checksums",
    ),
    "manifest_drops_weights_entry": (
        _edit_manifest(lambda m: m["files"].pop("weights.pt")),
        r"the manifest does not cover \['weights\.pt'\]",
    ),
    "manifest_names_parent_path": (
        _edit_manifest(lambda m: m["files"].update({"../x": "0" * 64})),
        r"names a file outside the bundle \('\.\./x'\)",
    ),
    "manifest_names_absolute_path": (
        _edit_manifest(lambda m: m["files"].update({"/etc/passwd": "0" * 64})),
        r"names a file outside the bundle \('/etc/passwd'\)",
    ),
    "manifest_names_subdirectory": (
        _edit_manifest(lambda m: m["files"].update({"sub/weights.pt": "0" * 64})),
        r"names a file outside the bundle \('sub/weights\.pt'\)",
    ),
    "manifest_names_the_parent_itself": (
        _edit_manifest(lambda m: m["files"].update({"..": "0" * 64})),
        r"\.\. is missing; the bundle is incomplete",
    ),
    "manifest_model_config_edited": (
        _edit_manifest(lambda m: m["model_config"].update(latent_dim=m["model_config"]["latent_dim"] + 1)),
        r"(?s)the bundle could not be loaded \(RuntimeError: .*size mismatch",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_damaged_bundle_is_refused_with_a_clear_message(case: str, bundle: Path) -> None:
    damage, message = CASES[case]
    damage(bundle)
    with pytest.raises(BundleError, match=message) as error:
        Neurix.load(bundle)
    assert f'model bundle "{bundle.name}"' in str(error.value), "the message names the bundle"
    assert str(bundle.parent) not in str(error.value), "but never the server's absolute path"
    assert "Traceback" not in str(error.value)


def test_the_pristine_copy_loads(snapshot: Path) -> None:
    """Control: copying alone breaks nothing (checksums are content-only, not path or time based)."""
    neurix = Neurix.load(snapshot)
    assert neurix.bundle.version == _manifest(snapshot)["model_version"]
    assert len(neurix.bundle.genes) == _manifest(snapshot)["n_genes"]


def test_unlisted_extra_files_are_ignored(bundle: Path) -> None:
    """Stray files the manifest does not list (an editor backup, a README) do not stop a bundle."""
    (bundle / "notes.txt").write_text("copied from the training server\n", encoding="utf-8")
    (bundle / "weights.pt.bak").write_bytes(b"old")
    assert Neurix.load(bundle).bundle.version == _manifest(bundle)["model_version"]


def test_an_optional_file_the_manifest_does_not_list_is_not_used(bundle: Path) -> None:
    manifest = _manifest(bundle)
    if "drug_map.csv" not in manifest["files"]:
        pytest.skip("this bundle ships no drug map")
    lines = (bundle / "drug_map.csv").read_text(encoding="utf-8").splitlines()
    shuffled = [lines[0], *reversed(lines[1:])]  # header, then the rows in reverse order
    (bundle / "drug_map.csv").write_text("\n".join(shuffled) + "\n", encoding="utf-8")
    manifest["files"].pop("drug_map.csv")
    _write_manifest(bundle, manifest)
    try:
        loaded = Neurix.load(bundle)
    except BundleError:
        return  # refusing is fine too
    assert loaded.bundle.drug_map is None, "an unverified drug map was loaded"


def test_damaged_but_re_signed_weights_are_still_refused(bundle: Path) -> None:
    """Even when the checksum was updated to match, truncated weights fail at load with a BundleError (no raw
    torch/zip exception reaches the caller)."""
    _truncate("weights.pt")(bundle)
    _re_sign(bundle, "weights.pt")
    with pytest.raises(BundleError, match=r"the bundle could not be loaded \(\w+"):
        Neurix.load(bundle)


def test_inconsistent_re_signed_gene_list_is_refused(bundle: Path) -> None:
    genes = (bundle / "genes.txt").read_text(encoding="utf-8").split()
    (bundle / "genes.txt").write_text("\n".join(genes[:-1]) + "\n", encoding="utf-8")
    _re_sign(bundle, "genes.txt")
    # the first part checked (the ridge part of a hybrid, else the network) names the mismatch
    with pytest.raises(BundleError, match=r"do(es)? not match the (network's shape|genes/drugs)"):
        Neurix.load(bundle)


class _Payload:
    """Unpickling this would create a file: the proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize("container", ["torch_zip", "plain_pickle"])
def test_weights_with_pickled_code_are_refused_even_when_re_signed(
    container: str, bundle: Path, tmp_path: Path
) -> None:
    """Weights load with ``weights_only=True``: a checkpoint that would run code is refused, not executed."""
    import torch

    marker = tmp_path / "code_ran"
    payload = {"expression_tower.net.0.weight": _Payload(marker)}
    if container == "torch_zip":
        torch.save(payload, bundle / "weights.pt")
    else:
        (bundle / "weights.pt").write_bytes(pickle.dumps(payload, protocol=2))
    _re_sign(bundle, "weights.pt")
    with pytest.raises(BundleError, match=r"the bundle could not be loaded \(UnpicklingError"):
        Neurix.load(bundle)
    assert not marker.exists(), "unpickling ran code from the weights file"


def test_a_re_signed_manifest_is_trusted(bundle: Path) -> None:
    """Documents the limit of an unsigned manifest: a consistent edit of file + checksum loads. Authenticity
    needs the manifest's sha256 pinned outside the bundle (see the module docstring)."""
    _edit_drug_table(bundle)
    _re_sign(bundle, "drugs.csv")
    assert Neurix.load(bundle).bundle.drugs is not None


@pytest.mark.parametrize("kind", ["missing_directory", "not_a_bundle", "a_file", "empty_directory"])
def test_paths_that_are_not_bundles_are_refused(kind: str, tmp_path: Path) -> None:
    target = tmp_path / "target"
    if kind == "not_a_bundle":
        target.mkdir()
        (target / "weights.pt").write_bytes(b"\x00" * 64)
        (target / "README.md").write_text("not a bundle\n", encoding="utf-8")
    elif kind == "a_file":
        target.write_text("{}", encoding="utf-8")
    elif kind == "empty_directory":
        target.mkdir()
    expected = {
        "missing_directory": r"model bundle \"target\" not found",
        "a_file": r"model bundle \"target\" not found",
        "not_a_bundle": r"is not a Neurix model bundle \(no manifest\.json\)",
        "empty_directory": r"is not a Neurix model bundle \(no manifest\.json\)",
    }[kind]
    with pytest.raises(BundleError, match=expected):
        Neurix.load(target)


def test_cli_refuses_a_tampered_bundle(
    bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _flip_byte("weights.pt")(bundle)
    profile = tmp_path / "p.csv"
    profile.write_text("gene,S1\nTP53,1.0\n", encoding="utf-8")
    code = cli.main(
        ["predict", "--bundle", str(bundle), "--input", str(profile), "--out", str(tmp_path / "o.csv")]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "neurix: error:" in err and "weights.pt does not match its recorded checksum" in err
    assert not (tmp_path / "o.csv").exists()


def test_dashboard_refuses_a_tampered_bundle(bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The dashboard shows the reason and offers no upload; it never serves predictions from a bad bundle."""
    from streamlit.testing.v1 import AppTest

    _flip_byte("weights.pt")(bundle)
    monkeypatch.setenv("NEURIX_BUNDLE", str(bundle))
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=60)
    at.switch_page("views/predict.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    assert any(
        "could not be loaded" in e and "weights.pt does not match its recorded checksum" in e for e in errors
    )
    assert len(at.file_uploader) == 0, "no upload is offered without a verified model"


def test_required_files_are_all_checked(snapshot: Path) -> None:
    """Every required file is covered by the manifest of the shipped bundle (so every byte above is checked)."""
    listed = set(_manifest(snapshot)["files"])
    assert set(REQUIRED_FILES) <= listed
    on_disk = {p.name for p in snapshot.iterdir() if p.is_file() and p.name != "manifest.json"}
    assert on_disk <= listed, f"files shipped without a checksum: {sorted(on_disk - listed)}"


# --- I/O failures: the project's own error, no server paths, the documented exit codes ---------------------------


def _unreadable(bundle: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make one bundle file raise PermissionError on every read (tests run as root, so chmod cannot)."""
    target = bundle / name
    real_open = open
    real_read_bytes, real_read_text = Path.read_bytes, Path.read_text

    def denied(path: object) -> bool:
        return Path(str(path)).resolve() == target.resolve()

    def guarded_open(file, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202 - mirrors open()
        if denied(file):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    def read_bytes(self: Path) -> bytes:
        if denied(self):
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_bytes(self)

    def read_text(self: Path, *args, **kwargs) -> str:  # noqa: ANN002, ANN003
        if denied(self):
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_text(self, *args, **kwargs)

    monkeypatch.setattr("builtins.open", guarded_open)
    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    monkeypatch.setattr(Path, "read_text", read_text)


@pytest.mark.parametrize("name", ["manifest.json", "weights.pt", "genes.txt"])
def test_an_unreadable_bundle_file_is_a_bundle_error_without_paths(
    name: str, bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _unreadable(bundle, name, monkeypatch)
    with pytest.raises(BundleError, match=rf"{name} cannot be read \(Permission denied\)") as error:
        Neurix.load(bundle)
    assert str(bundle.parent) not in str(error.value)


def test_cli_exit_codes(
    bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """2 for what the user can fix (unreadable bundle or input, unwritable output); 1 for internal errors."""
    profile = tmp_path / "p.csv"
    genes = (bundle / "genes.txt").read_text(encoding="utf-8").split()
    values = np.random.default_rng(0).normal(size=len(genes))
    profile.write_text(
        "gene,S1\n" + "".join(f"{g},{v:.4f}\n" for g, v in zip(genes, values, strict=True)), encoding="utf-8"
    )
    args = ["predict", "--bundle", str(bundle), "--input", str(profile)]
    code = cli.main([*args, "--out", str(tmp_path / "missing_dir" / "o.csv")])  # an unwritable output
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert (
        code == 2 and "Traceback" not in err and last.startswith("neurix: error:") and "missing_dir" in last
    )
    monkeypatch.setattr(cli, "_load", lambda a: (_ for _ in ()).throw(TypeError("bug")))
    code = cli.main([*args, "--out", str(tmp_path / "o.csv")])
    err = capsys.readouterr().err
    assert code == 1 and "internal error (TypeError)" in err and "Traceback" not in err
    monkeypatch.undo()
    _unreadable(bundle, "weights.pt", monkeypatch)
    code = cli.main([*args, "--out", str(tmp_path / "o.csv")])
    err = capsys.readouterr().err
    assert code == 2 and "weights.pt cannot be read" in err and str(bundle.parent) not in err


def test_dashboard_shows_an_unreadable_bundle_as_a_message(
    bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Start-up runs inside the page wrapper: the reason, not 'Something went wrong', and no traceback."""
    from streamlit.testing.v1 import AppTest

    from dashboard import widgets

    widgets._load_neurix.clear()
    _unreadable(bundle, "weights.pt", monkeypatch)
    monkeypatch.setenv("NEURIX_BUNDLE", str(bundle))
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=60)
    at.run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert any("could not be loaded" in e and "weights.pt cannot be read" in e for e in errors), errors
    assert all(widgets.GENERIC_ERROR not in e and str(bundle.parent) not in e for e in errors)
