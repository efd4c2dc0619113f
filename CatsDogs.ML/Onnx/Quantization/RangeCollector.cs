namespace CatsDogs.ML.Onnx.Quantization;

/// <summary>
/// The range of one activation tensor over the calibration runs: its minimum and maximum, and a histogram of absolute
/// values for the percentile method. The histogram keeps <see cref="Bins"/> bins over [0, top); when a value reaches
/// top, top doubles and neighbouring bins merge, which is exact, so one pass suffices and the result depends only on
/// the values and their order.
/// </summary>
internal sealed class RangeCollector
{
    /// <summary>Histogram bins (ONNX Runtime's percentile calibrator uses 2048).</summary>
    public const int Bins = 2048;

    private readonly long[] _histogram = new long[Bins];
    private double _top;
    private long _count;

    /// <summary>The smallest value seen.</summary>
    public float Min { get; private set; } = float.PositiveInfinity;

    /// <summary>The largest value seen.</summary>
    public float Max { get; private set; } = float.NegativeInfinity;

    /// <summary>Adds one run's values.</summary>
    /// <exception cref="InvalidOperationException">A value is not finite.</exception>
    public void Add(ReadOnlySpan<float> values)
    {
        var absMax = 0f;
        foreach (var v in values)
        {
            if (!float.IsFinite(v))
            {
                throw new InvalidOperationException("the tensor holds a value that is not a finite number");
            }

            Min = Math.Min(Min, v);
            Max = Math.Max(Max, v);
            absMax = Math.Max(absMax, Math.Abs(v));
        }

        if (_top == 0)
        {
            _top = absMax > 0 ? absMax : 0;
        }

        while (_top > 0 && absMax >= _top)
        {
            for (var i = 0; i < Bins / 2; i++)
            {
                _histogram[i] = _histogram[2 * i] + _histogram[(2 * i) + 1];
            }

            Array.Clear(_histogram, Bins / 2, Bins / 2);
            _top *= 2;
        }

        foreach (var v in values)
        {
            _histogram[_top > 0 ? Math.Min(Bins - 1, (int)(Math.Abs(v) / _top * Bins)) : 0]++;
        }

        _count += values.Length;
    }

    /// <summary>The calibrated range: [min, max], or each side clipped to the <paramref name="percentile"/> of absolute values.</summary>
    public (float Min, float Max) Range(CalibrationMethod method, double percentile)
    {
        if (_count == 0)
        {
            throw new InvalidOperationException("no calibration values were seen");
        }

        if (method == CalibrationMethod.MinMax || _top == 0)
        {
            return (Min, Max);
        }

        var wanted = percentile / 100 * _count;
        long cumulative = 0;
        var bin = 0;
        for (; bin < Bins - 1; bin++)
        {
            cumulative += _histogram[bin];
            if (cumulative >= wanted)
            {
                break;
            }
        }

        var threshold = (float)((bin + 1) * _top / Bins);
        return (Math.Max(Min, -threshold), Math.Min(Max, threshold));
    }

    /// <summary>
    /// The uint8 scale and zero point of a range, as ONNX Runtime's <c>compute_scale_zp</c> makes them: the range is
    /// widened to include 0 (so that zero padding is exact), scale = (max − min) / 255, zero point = round(−min / scale).
    /// </summary>
    public static (float Scale, byte ZeroPoint) Uint8(float min, float max)
    {
        min = Math.Min(min, 0);
        max = Math.Max(max, 0);
        if (max == min)
        {
            return (1f, 0);
        }

        var scale = (max - min) / 255f;
        return (scale, (byte)Math.Clamp(Math.Round(-min / scale, MidpointRounding.ToEven), 0, 255));
    }
}
