"""Small CPU torch models: a TabTransformer regressor and an autoencoder (latent space + novelty).

torch is imported inside functions only. The members keep their weights as numpy arrays (not torch
modules), so they pickle without torch and the saved bytes depend only on data, config and seed; the
torch module is rebuilt on first use.

Reproducibility: every fit runs inside `torch_session(seed, threads)`, which seeds torch, switches on
deterministic algorithms and fixes the thread count, then restores the global settings and RNG state;
predictions run the same way without seeding (eval mode has no randomness).
"""

from __future__ import annotations

import io
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterator

import numpy as np

from rexai_assets.models.config import AutoencoderConfig, TabTransformerConfig
from rexai_assets.models.forest import target_mask

PREDICT_BATCH = 4096


@contextmanager
def torch_session(seed: int | None, threads: int) -> Iterator[Any]:
    """A fixed thread count, and for training (a seed given) deterministic algorithms and a seeded global
    RNG; the caller's settings and RNG state come back afterwards, so other torch code is unaffected.

    Inference (no seed) skips the deterministic switch: a CPU forward pass in eval mode is deterministic
    already, and switching costs ~1.5 s of imports on every `rexai recommend`."""
    import torch

    training = seed is not None
    previous_threads = torch.get_num_threads()
    previous_deterministic = torch.are_deterministic_algorithms_enabled() if training else None
    previous_rng = torch.random.get_rng_state() if training else None
    torch.set_num_threads(max(1, threads))
    if training:
        torch.use_deterministic_algorithms(True)
        torch.manual_seed(seed)
    try:
        yield torch
    finally:
        torch.set_num_threads(previous_threads)
        if training:
            torch.use_deterministic_algorithms(previous_deterministic)
            torch.random.set_rng_state(previous_rng)


@lru_cache(maxsize=1)
def _networks() -> dict[str, type]:
    """The nn.Module classes, defined on first use so that importing this module does not import torch."""
    import torch
    from torch import nn

    class TabTransformerNet(nn.Module):
        """Feature tokens: token_j = x_j · value_weight_j + feature_embedding_j (the embedding is also the
        token's bias); a learned [CLS] token is read out after the encoder."""

        def __init__(self, n_features: int, n_targets: int, d_model: int, n_heads: int, n_layers: int,
                     ff_dim: int, dropout: float):
            super().__init__()
            self.value_weight = nn.Parameter(torch.randn(n_features, d_model) / d_model ** 0.5)
            self.feature_embedding = nn.Parameter(torch.randn(n_features, d_model) * 0.02)
            self.cls = nn.Parameter(torch.zeros(1, 1, d_model))
            layer = nn.TransformerEncoderLayer(d_model, n_heads, dim_feedforward=ff_dim, dropout=dropout,
                                               batch_first=True, norm_first=True)
            self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(d_model)
            self.head = nn.Linear(d_model, n_targets)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            tokens = x.unsqueeze(-1) * self.value_weight + self.feature_embedding
            cls = self.cls.expand(x.shape[0], -1, -1)
            encoded = self.encoder(torch.cat([cls, tokens], dim=1))
            return self.head(self.norm(encoded[:, 0]))

    class AutoencoderNet(nn.Module):
        def __init__(self, n_features: int, hidden_dim: int, latent_dim: int):
            super().__init__()
            self.encoder = nn.Sequential(nn.Linear(n_features, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, latent_dim))
            self.decoder = nn.Sequential(nn.Linear(latent_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, n_features))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.decoder(self.encoder(x))

    return {"tab_transformer": TabTransformerNet, "autoencoder": AutoencoderNet}


def standardiser(X: np.ndarray, mean: np.ndarray | None, std: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Feature mean/std (from gold's train-only statistics when given); constant features get std 1."""
    mean = X.mean(axis=0) if mean is None else np.asarray(mean, dtype=float)
    std = X.std(axis=0) if std is None else np.asarray(std, dtype=float)
    std = np.where(np.isfinite(std) & (std > 1e-12), std, 1.0)
    return mean.astype(float), std.astype(float)


def _state_to_numpy(module: Any) -> dict[str, np.ndarray]:
    return {k: v.detach().cpu().numpy().copy() for k, v in module.state_dict().items()}


def state_bytes(payload: dict) -> bytes:
    """torch.save of `payload` (numpy weights become tensors) into memory.

    Saving to a buffer, not a path, keeps the bytes deterministic: torch names the archive's top-level
    folder after the file name."""
    import torch

    converted = {k: ({n: torch.from_numpy(np.ascontiguousarray(a)) for n, a in v.items()} if k == "weights" else v)
                 for k, v in payload.items()}
    buffer = io.BytesIO()
    torch.save(converted, buffer)
    return buffer.getvalue()


def state_from_bytes(data: bytes) -> dict:
    import torch

    payload = torch.load(io.BytesIO(data), weights_only=True)
    payload["weights"] = {n: t.numpy().copy() for n, t in payload["weights"].items()}
    return payload


def _batches(torch: Any, n: int, batch_size: int, generator: Any) -> Iterator[Any]:
    order = torch.randperm(n, generator=generator)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


def _decaying_lr(torch: Any, optimiser: Any, total_steps: int) -> Any:
    # Linear decay to 10 % of the initial rate: a short run still ends on small steps.
    return torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: max(0.1, 1.0 - step / max(total_steps, 1)))


class TorchMember:
    """What both torch members share: the network of kind `self.name`, rebuilt from `self.weights` on
    first use and kept for later calls, but never pickled (the weights are the state)."""

    name: str
    hparams: dict
    weights: dict[str, np.ndarray]

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_module", None)
        return state

    def _net(self, torch: Any) -> Any:
        if getattr(self, "_module", None) is None:
            net = _networks()[self.name](**self.hparams)
            net.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in self.weights.items()})
            net.eval()
            self._module = net
        return self._module


@dataclass
class TabTransformerMember(TorchMember):
    target_names: tuple[str, ...]
    hparams: dict
    x_mean: np.ndarray
    x_std: np.ndarray
    y_mean: np.ndarray
    y_std: np.ndarray
    weights: dict[str, np.ndarray]
    seed: int
    threads: int
    history: list[float] = field(default_factory=list, compare=False)
    train_seconds: float = field(default=0.0, compare=False)
    name: str = "tab_transformer"

    def predict(self, X: np.ndarray) -> np.ndarray:
        Xn = ((np.asarray(X, dtype=float) - self.x_mean) / self.x_std).astype(np.float32)
        with torch_session(None, self.threads) as torch:
            net = self._net(torch)
            out = []
            with torch.no_grad():
                for start in range(0, len(Xn), PREDICT_BATCH):
                    out.append(net(torch.from_numpy(Xn[start:start + PREDICT_BATCH])).numpy())
        z = np.concatenate(out) if out else np.zeros((0, len(self.target_names)), dtype=np.float32)
        return z.astype(float) * self.y_std + self.y_mean

    def payload(self) -> dict:
        return {"kind": self.name, "target_names": list(self.target_names), "hparams": self.hparams,
                "x_mean": self.x_mean.tolist(), "x_std": self.x_std.tolist(), "y_mean": self.y_mean.tolist(),
                "y_std": self.y_std.tolist(), "seed": self.seed, "threads": self.threads, "weights": self.weights}

    @classmethod
    def from_payload(cls, p: dict) -> "TabTransformerMember":
        return cls(tuple(p["target_names"]), dict(p["hparams"]), np.array(p["x_mean"]), np.array(p["x_std"]),
                   np.array(p["y_mean"]), np.array(p["y_std"]), p["weights"], int(p["seed"]), int(p["threads"]))


def masked_weighted_mse(torch: Any, pred: Any, target: Any, mask: Any, weight: Any) -> Any:
    """Mean squared error over labelled cells only, each row weighted by its label-source weight.

    Unlabelled cells are zeroed with `where` before anything is multiplied, so whatever value an
    unlabelled cell holds (NaN included) contributes exactly nothing to the loss or its gradient."""
    diff = torch.where(mask, pred - torch.where(mask, target, torch.zeros_like(target)), torch.zeros_like(pred))
    cell_weight = mask.to(pred.dtype) * weight.unsqueeze(1)
    return (cell_weight * diff ** 2).sum() / cell_weight.sum().clamp_min(1e-12)


def fit_tab_transformer(X: np.ndarray, Y: np.ndarray, W: np.ndarray, target_names: tuple[str, ...],
                        cfg: TabTransformerConfig, seed: int, threads: int = 1, mask: np.ndarray | None = None,
                        x_mean: np.ndarray | None = None, x_std: np.ndarray | None = None) -> TabTransformerMember:
    """Masked, weighted multi-target regression on standardised features and targets."""
    started = time.perf_counter()
    mask = target_mask(Y, mask)
    for j, target in enumerate(target_names):
        if not mask[:, j].any():
            raise ValueError(f"tab_transformer: target {target!r} has no labelled training rows")
    rows = np.arange(len(X))
    if len(rows) > cfg.max_train_rows:
        rows = np.sort(np.random.default_rng(seed).choice(len(X), cfg.max_train_rows, replace=False))
    X, Y, W, mask = X[rows], Y[rows], W[rows], mask[rows]
    mean, std = standardiser(X, x_mean, x_std)
    y_mean = np.array([Y[mask[:, j], j].mean() for j in range(Y.shape[1])])
    y_std = np.array([Y[mask[:, j], j].std() for j in range(Y.shape[1])])
    y_std = np.where(y_std > 1e-12, y_std, 1.0)
    Yz = np.where(mask, (np.where(mask, Y, 0.0) - y_mean) / y_std, 0.0)
    hparams = {"n_features": X.shape[1], "n_targets": Y.shape[1], "d_model": cfg.d_model, "n_heads": cfg.n_heads,
               "n_layers": cfg.n_layers, "ff_dim": cfg.ff_dim, "dropout": cfg.dropout}
    history = []
    with torch_session(seed, threads) as torch:
        net = _networks()["tab_transformer"](**hparams)
        xt = torch.from_numpy(((X - mean) / std).astype(np.float32))
        yt = torch.from_numpy(Yz.astype(np.float32))
        mt = torch.from_numpy(mask)
        wt = torch.from_numpy(np.asarray(W, dtype=np.float32))
        optimiser = torch.optim.AdamW(net.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
        steps = cfg.epochs * -(-len(X) // cfg.batch_size)
        schedule = _decaying_lr(torch, optimiser, steps)
        generator = torch.Generator().manual_seed(seed)
        net.train()
        for _ in range(cfg.epochs):
            total, count = 0.0, 0
            for idx in _batches(torch, len(X), cfg.batch_size, generator):
                optimiser.zero_grad()
                loss = masked_weighted_mse(torch, net(xt[idx]), yt[idx], mt[idx], wt[idx])
                loss.backward()
                optimiser.step()
                schedule.step()
                total += loss.item() * len(idx)
                count += len(idx)
            history.append(total / max(count, 1))
        weights = _state_to_numpy(net)
    return TabTransformerMember(tuple(target_names), hparams, mean, std, y_mean, y_std, weights, seed, threads,
                                history, time.perf_counter() - started)


@dataclass
class AutoencoderMember(TorchMember):
    """Latent vector per recipe and reconstruction error (mean squared, standardised features) as novelty."""

    hparams: dict
    x_mean: np.ndarray
    x_std: np.ndarray
    weights: dict[str, np.ndarray]
    seed: int
    threads: int
    history: list[float] = field(default_factory=list, compare=False)
    train_seconds: float = field(default=0.0, compare=False)
    name: str = "autoencoder"

    def _run(self, X: np.ndarray, what: str) -> np.ndarray:
        Xn = ((np.asarray(X, dtype=float) - self.x_mean) / self.x_std).astype(np.float32)
        out = []
        with torch_session(None, self.threads) as torch:
            net = self._net(torch)
            with torch.no_grad():
                for start in range(0, len(Xn), PREDICT_BATCH):
                    xb = torch.from_numpy(Xn[start:start + PREDICT_BATCH])
                    if what == "latent":
                        out.append(net.encoder(xb).numpy())
                    else:
                        out.append(((net(xb) - xb) ** 2).mean(dim=1).numpy())
        if not out:
            return np.zeros((0, self.hparams["latent_dim"]) if what == "latent" else (0,))
        return np.concatenate(out).astype(float)

    def latent(self, X: np.ndarray) -> np.ndarray:
        return self._run(X, "latent")

    def novelty(self, X: np.ndarray) -> np.ndarray:
        return self._run(X, "novelty")

    def payload(self) -> dict:
        return {"kind": self.name, "hparams": self.hparams, "x_mean": self.x_mean.tolist(),
                "x_std": self.x_std.tolist(), "seed": self.seed, "threads": self.threads, "weights": self.weights}

    @classmethod
    def from_payload(cls, p: dict) -> "AutoencoderMember":
        return cls(dict(p["hparams"]), np.array(p["x_mean"]), np.array(p["x_std"]), p["weights"],
                   int(p["seed"]), int(p["threads"]))


def fit_autoencoder(X: np.ndarray, cfg: AutoencoderConfig, seed: int, threads: int = 1,
                    x_mean: np.ndarray | None = None, x_std: np.ndarray | None = None) -> AutoencoderMember:
    """Reconstruct standardised train features through a `latent_dim` bottleneck."""
    started = time.perf_counter()
    mean, std = standardiser(X, x_mean, x_std)
    hparams = {"n_features": X.shape[1], "hidden_dim": cfg.hidden_dim, "latent_dim": cfg.latent_dim}
    history = []
    with torch_session(seed, threads) as torch:
        net = _networks()["autoencoder"](**hparams)
        xt = torch.from_numpy(((X - mean) / std).astype(np.float32))
        optimiser = torch.optim.AdamW(net.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
        schedule = _decaying_lr(torch, optimiser, cfg.epochs * -(-len(X) // cfg.batch_size))
        generator = torch.Generator().manual_seed(seed)
        net.train()
        for _ in range(cfg.epochs):
            total = 0.0
            for idx in _batches(torch, len(X), cfg.batch_size, generator):
                optimiser.zero_grad()
                loss = ((net(xt[idx]) - xt[idx]) ** 2).mean()
                loss.backward()
                optimiser.step()
                schedule.step()
                total += loss.item() * len(idx)
            history.append(total / max(len(X), 1))
        weights = _state_to_numpy(net)
    return AutoencoderMember(hparams, mean, std, weights, seed, threads, history, time.perf_counter() - started)
