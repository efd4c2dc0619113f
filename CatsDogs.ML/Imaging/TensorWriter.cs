namespace CatsDogs.ML.Imaging;

/// <summary>
/// Turns opaque RGBA pixels into a network input exactly as an <see cref="ImagePreprocessing"/> says: layout,
/// channel order and normalisation, all derived from the record.
/// </summary>
internal sealed class TensorWriter
{
    private readonly int _pixels;
    private readonly bool _nhwc;
    private readonly int[] _sourceChannel; // RGBA byte offset feeding each tensor channel
    private readonly float[] _scale;
    private readonly float[] _offset;
    private readonly float[]? _meanImage; // [channel, y, x] in tensor channel order

    /// <param name="input">The preprocessing.</param>
    /// <param name="meanImage">For <see cref="NormalizationKind.CaffeMeanImage"/>: the mean image, [channel, y, x] in the input's channel order.</param>
    /// <exception cref="ArgumentException">The normalisation lacks values, or the mean image has the wrong size.</exception>
    public TensorWriter(ImagePreprocessing input, float[]? meanImage)
    {
        _pixels = input.Width * input.Height;
        _nhwc = input.Layout == TensorLayout.Nhwc;
        _sourceChannel = input.ChannelOrder == ChannelOrder.Rgb ? [0, 1, 2] : [2, 1, 0];
        (_scale, _offset) = Affine(input.Normalization);
        if (input.Normalization.Kind == NormalizationKind.CaffeMeanImage)
        {
            _meanImage = meanImage ?? throw new ArgumentException("A mean-image normalisation needs its mean image.", nameof(meanImage));
            if (_meanImage.Length != 3 * _pixels)
            {
                throw new ArgumentException($"The mean image has {_meanImage.Length} values; expected 3×{input.Height}×{input.Width}.", nameof(meanImage));
            }
        }
    }

    /// <summary>Number of floats in one input tensor (batch of one).</summary>
    public int Length => 3 * _pixels;

    /// <summary>The mean image subtracted after the affine map, [channel, y, x] in tensor channel order; null when none.</summary>
    public ReadOnlySpan<float> MeanImage => _meanImage;

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

    /// <summary>The per-channel affine map (scale, offset) of a normalisation, in tensor channel order.</summary>
    /// <exception cref="ArgumentException">The normalisation lacks its means or standard deviations.</exception>
    public static (float[] Scale, float[] Offset) Affine(PixelNormalization n)
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
