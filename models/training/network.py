"""The orewatch change network: a compact early-fusion U-Net for bitemporal change.

Input  x: [N, C, H, W] float32, C = 2·B + 2 (models/onnx/input-spec.ts): B before bands, B after
          bands (normalised, after mapped onto the before radiometry), swir_present, clear.
          H and W multiples of 4.
Output probs: [N, 3, H, W] float32, softmax over (no change, mining-type disturbance, other change).

Early fusion: the network sees both dates and their difference from the first layer, so every
layer can compare them. Three scales (1, 1/2, 1/4) with a dilated block at 1/4 give a receptive
field of about 60 px (600 m at 10 m), enough to see whether a loss of vegetation sits on a
forested hill or inside a field pattern.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


def block(cin, cout, dilation=1):
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class ChangeNet(nn.Module):
    def __init__(self, bands=6, widths=(12, 24, 48), classes=3):
        super().__init__()
        self.bands = bands
        c1, c2, c3 = widths
        cin = 2 * bands + 2 + bands  # before, after, flags, after - before
        self.enc1 = nn.Sequential(block(cin, c1), block(c1, c1))
        self.enc2 = nn.Sequential(block(c1, c2), block(c2, c2))
        self.enc3 = nn.Sequential(block(c2, c3), block(c3, c3, dilation=2), block(c3, c3, dilation=4))
        self.dec2 = nn.Sequential(block(c3 + c2, c2), block(c2, c2))
        self.dec1 = nn.Sequential(block(c2 + c1, c1), block(c1, c1))
        self.head = nn.Conv2d(c1, classes, 1)

    def forward(self, x):
        b = self.bands
        diff = x[:, b:2 * b] - x[:, 0:b]
        h = torch.cat([x, diff], dim=1)
        e1 = self.enc1(h)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        e3 = self.enc3(F.max_pool2d(e2, 2))
        d2 = self.dec2(torch.cat([F.interpolate(e3, scale_factor=2.0, mode="nearest"), e2], dim=1))
        d1 = self.dec1(torch.cat([F.interpolate(d2, scale_factor=2.0, mode="nearest"), e1], dim=1))
        return self.head(d1)


class Exported(nn.Module):
    """The graph that is exported: logits → softmax probabilities."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return torch.softmax(self.net(x), dim=1)


def parameter_count(net):
    return sum(p.numel() for p in net.parameters())
