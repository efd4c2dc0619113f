using System.Buffers.Binary;

namespace CatsDogs.ML.Training;

/// <summary>
/// Standardises each feature (mean 0, variance 1 on the training photos) and weights each backbone's block by
/// d_min / d (d = the block's width): with one L2 weight for the whole head this penalises a wide backbone's weights
/// more, so no backbone dominates the fusion by sheer width. Measured on the seeded 80/20 split with the four real
/// backbones: 0.0447 log loss unweighted, 0.0417 with (d_min/d)^½, 0.0389 with d_min/d (mirror-averaged features).
/// </summary>
internal sealed class FeatureScaler
{
    private const uint Magic = 0x43534443; // "CDSC"
    private readonly float[] _mean;
    private readonly float[] _scale;

    private FeatureScaler(float[] mean, float[] scale)
    {
        _mean = mean;
        _scale = scale;
    }

    public int Dimension => _mean.Length;

    /// <summary>The training mean of each feature.</summary>
    public ReadOnlySpan<float> Mean => _mean;

    /// <summary>Each feature's multiplier after centring (block weight / standard deviation).</summary>
    public ReadOnlySpan<float> Scale => _scale;

    /// <summary>Fits means and scales on <paramref name="features"/>, whose slots are the consecutive blocks <paramref name="blocks"/>.</summary>
    public static FeatureScaler Fit(IReadOnlyList<float[]> features, IReadOnlyList<int> blocks)
    {
        var dimension = blocks.Sum();
        if (features.Count == 0 || features.Any(f => f.Length != dimension))
        {
            throw new ArgumentException($"Every feature vector must have {dimension} values.", nameof(features));
        }

        var mean = new double[dimension];
        var square = new double[dimension];
        foreach (var f in features)
        {
            for (var j = 0; j < dimension; j++)
            {
                mean[j] += f[j];
            }
        }

        for (var j = 0; j < dimension; j++)
        {
            mean[j] /= features.Count;
        }

        foreach (var f in features)
        {
            for (var j = 0; j < dimension; j++)
            {
                var d = f[j] - mean[j];
                square[j] += d * d;
            }
        }

        var narrowest = blocks.Min();
        var scale = new float[dimension];
        var offset = 0;
        foreach (var width in blocks)
        {
            var weight = (double)narrowest / width;
            for (var j = offset; j < offset + width; j++)
            {
                var std = Math.Sqrt(square[j] / features.Count);
                // A constant feature carries nothing; it is zeroed rather than blown up.
                scale[j] = std > 1e-6 ? (float)(weight / std) : 0f;
            }

            offset += width;
        }

        return new FeatureScaler(mean.Select(m => (float)m).ToArray(), scale);
    }

    public float[] Apply(ReadOnlySpan<float> features)
    {
        var scaled = new float[_mean.Length];
        for (var j = 0; j < scaled.Length; j++)
        {
            scaled[j] = (features[j] - _mean[j]) * _scale[j];
        }

        return scaled;
    }

    public void Save(Stream stream)
    {
        var bytes = new byte[8 + 8 * _mean.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, Magic);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4), _mean.Length);
        for (var j = 0; j < _mean.Length; j++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(8 + 4 * j), _mean[j]);
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(8 + 4 * (_mean.Length + j)), _scale[j]);
        }

        stream.Write(bytes);
    }

    /// <exception cref="FormatException">The bytes are not a scaler of <paramref name="dimension"/> features.</exception>
    public static FeatureScaler Load(ReadOnlySpan<byte> bytes, int dimension)
    {
        if (bytes.Length != 8 + 8 * dimension || BinaryPrimitives.ReadUInt32LittleEndian(bytes) != Magic || BinaryPrimitives.ReadInt32LittleEndian(bytes[4..]) != dimension)
        {
            throw new FormatException($"the feature scaler is not one for {dimension} features");
        }

        var mean = new float[dimension];
        var scale = new float[dimension];
        for (var j = 0; j < dimension; j++)
        {
            mean[j] = BinaryPrimitives.ReadSingleLittleEndian(bytes[(8 + 4 * j)..]);
            scale[j] = BinaryPrimitives.ReadSingleLittleEndian(bytes[(8 + 4 * (dimension + j))..]);
            if (!float.IsFinite(mean[j]) || !float.IsFinite(scale[j]))
            {
                throw new FormatException($"the feature scaler holds a value that is not a finite number (feature {j})");
            }
        }

        return new FeatureScaler(mean, scale);
    }
}
