"""neurix_core.matmul: numpy's BLAS gives torch's product (to float32 rounding) in every layout it is used with, and
is used only where torch runs on one thread."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch

from neurix_core import matmul as matmul_module
from neurix_core.matmul import matmul


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """As in cohort partitions and the dashboard's processes, where the numpy path is taken."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _spy_on_numpy(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = np.matmul

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(matmul_module.np, "matmul", counted)
    return calls


def test_numpy_runs_the_product_only_where_torch_has_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _spy_on_numpy(monkeypatch)
    a, b = torch.randn(4, 3), torch.randn(3, 5)
    assert _close(matmul(a, b), a @ b) and len(calls) == 1
    torch.set_num_threads(2)  # next to torch's own thread pool: torch's product (two pools would fight)
    assert _close(matmul(a, b), a @ b) and len(calls) == 1


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return torch.allclose(a, b, rtol=1e-5, atol=1e-5)


def test_matches_torch_for_2d_batched_and_strided_operands() -> None:
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(7, 5, generator=gen), torch.randn(5, 9, generator=gen)
    assert _close(matmul(a, b), a @ b)
    batch_a, batch_b = torch.randn(3, 7, 5, generator=gen), torch.randn(3, 5, 9, generator=gen)
    assert _close(matmul(batch_a, batch_b), batch_a @ batch_b)
    wide = torch.randn(9, 12, generator=gen)
    columns = torch.tensor([0, 3, 4, 8, 11])
    assert _close(matmul(a, wide[:5].T[:5]), a @ wide[:5].T[:5])  # a transposed view
    assert _close(matmul(wide[:, columns], b), wide[:, columns] @ b)  # a gathered copy


def test_writes_into_out_including_a_slice_of_a_larger_block() -> None:
    gen = torch.Generator().manual_seed(1)
    a, b = torch.randn(2, 4, 6, generator=gen), torch.randn(2, 6, 3, generator=gen)
    block = torch.full((3, 4, 3), float("nan"))
    returned = matmul(a, b, out=block[:2])
    assert returned.data_ptr() == block.data_ptr()
    assert _close(block[:2], a @ b)
    assert torch.isnan(block[2]).all()  # nothing written outside ``out``


def test_keeps_torch_for_autograd_and_other_dtypes() -> None:
    a = torch.randn(3, 4, requires_grad=True)
    b = torch.randn(4, 2)
    product = matmul(a, b)
    product.sum().backward()  # the graph exists: torch's product was used
    assert a.grad is not None and _close(a.grad, b.sum(dim=1).expand(3, 4))
    doubles = torch.randn(3, 4, dtype=torch.float64)
    assert matmul(doubles, doubles.T).dtype == torch.float64
