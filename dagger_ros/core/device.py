"""Pick the torch device: CUDA when present, CPU otherwise."""

import torch


def get_device(device: str | torch.device = 'auto') -> torch.device:
    """Return ``cuda`` when asked for ``auto`` and a GPU is present, else the named device."""
    if isinstance(device, torch.device):
        return device
    if device == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    return torch.device(device)
