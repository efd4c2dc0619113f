using CatsDogs.ML.Backbones;

namespace CatsDogs.ML.Imaging;

/// <summary>
/// Turns opaque RGBA pixels into a backbone's input tensor exactly as its <see cref="BackboneSpec"/> says: layout,
/// channel order and normalisation, all derived from the spec.
/// </summary>
internal sealed class TensorWriter
{
    private readonly int _pixels;
    private readonly bool _nhwc;
    private readonly int[] _sourceChannel; // RGBA byte offset feeding each tensor channel
    private readonly float[] _scale;
    private readonly float[] _offset;
    private readonly float[]? _meanImage; // [channel, y, x] in tensor channel order

    public TensorWriter(BackboneSpec spec, float[]? meanImage)
    {
        _pixels = spec.InputWidth * spec.InputHeight;
        _nhwc = spec.Layout == TensorLayout.Nhwc;
        _sourceChannel = spec.ChannelOrder == ChannelOrder.Rgb ? [0, 1, 2] : [2, 1, 0];
        (_scale, _offset) = Affine(spec.Normalization);
        if (spec.Normalization.Kind == NormalizationKind.CaffeMeanImage)
        {
            _meanImage = meanImage ?? throw new ArgumentException($"Backbone '{spec.Name}' needs its mean image.", nameof(meanImage));
            if (_meanImage.Length != 3 * _pixels)
            {
                throw new ArgumentException($"Mean image of '{spec.Name}' has {_meanImage.Length} values; expected 3×{spec.InputHeight}×{spec.InputWidth}.", nameof(meanImage));
            }
        }
    }

    /// <summary>Number of floats in one input tensor (batch of one).</summary>
    public int Length => 3 * _pixels;

    /// <summary>Writes one image (width × height × 4 RGBA bytes) as a tensor of <see cref="Length"/> floats.</summary>
    public void Write(ReadOnlySpan<byte> rgba, Span<float> tensor)
    {
        if (rgba.Length != 4 * _pixels || tensor.Length != Length)
        {
            throw new ArgumentException($"Expected {4 * _pixels} RGBA bytes and {Length} floats; got {rgba.Length} and {tensor.Length}.");
        }

        for (var c = 0; c < 3; c++)
        {
            int src = _sourceChannel[c], dst = _nhwc ? c : c * _pixels, step = _nhwc ? 3 : 1;
            float scale = _scale[c], offset = _offset[c];
            var mean = _meanImage is null ? default : _meanImage.AsSpan(c * _pixels, _pixels);
            for (var p = 0; p < _pixels; p++, dst += step)
            {
                var value = (rgba[(4 * p) + src] * scale) + offset;
                tensor[dst] = mean.IsEmpty ? value : value - mean[p];
            }
        }
    }

    private static (float[] Scale, float[] Offset) Affine(PixelNormalization n)
    {
        float[] Channel(IReadOnlyList<float>? values, string what)
        {
            if (values is not { Count: 3 })
            {
                throw new ArgumentException($"{n.Kind} normalisation needs three {what} values.");
            }

            return values.ToArray();
        }

        switch (n.Kind)
        {
            case NormalizationKind.Raw:
            case NormalizationKind.CaffeMeanImage:
                return ([1, 1, 1], [0, 0, 0]);
            case NormalizationKind.CaffeMean:
                return ([1, 1, 1], Channel(n.Mean, "mean").Select(m => -m).ToArray());
            case NormalizationKind.Tf:
                return ([1 / 127.5f, 1 / 127.5f, 1 / 127.5f], [-1, -1, -1]);
            case NormalizationKind.Torch:
                var mean = Channel(n.Mean, "mean");
                var std = Channel(n.Std, "std");
                return (std.Select(s => 1 / (255f * s)).ToArray(), mean.Zip(std, (m, s) => -m / s).ToArray());
            default:
                throw new ArgumentOutOfRangeException(nameof(n), n.Kind, "Unknown normalisation.");
        }
    }
}
