"""Unit 3 reference: data augmentation for image batches and k-fold cross-validation splits."""
import torch
import torch.nn.functional as F


def augment_batch(x, generator, flip_p=0.5, pad=4):
    """Random horizontal flip, then a random crop from the image zero-padded by `pad` on every side.

    x: (N, C, H, W). Each image is flipped left-right with probability flip_p and then
    shifted by (dy, dx), each drawn uniformly from -pad..pad; what leaves the frame is
    cut off and what enters it is zero. Every random number comes from `generator`.
    """
    N, C, H, W = x.shape
    flip = torch.rand(N, generator=generator, device=generator.device) < flip_p       # (N,)
    x = torch.where(flip.to(x.device)[:, None, None, None], x.flip(-1), x)            # (N, C, H, W)
    padded = F.pad(x, (pad, pad, pad, pad))                                            # (N, C, H + 2p, W + 2p)
    offsets = torch.randint(0, 2 * pad + 1, (N, 2), generator=generator, device=generator.device)
    crops = [padded[i, :, dy:dy + H, dx:dx + W] for i, (dy, dx) in enumerate(offsets.tolist())]
    return torch.stack(crops)                                                          # (N, C, H, W)


def k_fold_indices(n, k, generator):
    """Shuffle 0..n-1 with `generator` and cut it into k folds whose sizes differ by at most one.

    Returns a list of k int64 tensors; the first n % k folds hold one index more.
    """
    perm = torch.randperm(n, generator=generator)
    size, extra = divmod(n, k)
    sizes = [size + 1 if i < extra else size for i in range(k)]
    return list(torch.split(perm, sizes))
