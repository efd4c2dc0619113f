using CatsDogs.ML.Data;
using CatsDogs.ML.Imaging;

namespace CatsDogs.ML.Audit;

/// <summary>
/// Simple statistics of one photo, for the audit's size and colour tests: its upright size as stored, and three colour
/// statistics over a small rendering of it (64 × 64). They are chosen because pet photos are natural-coloured:
/// <see cref="GreyShare"/> finds black-and-white photos, scans and sketches; <see cref="Saturation"/> finds cartoons,
/// logos and signs in vivid flat colours (and washed-out, faded ones); <see cref="Brightness"/> finds graphics on a white
/// background and very dark frames.
/// </summary>
/// <param name="Image">The photo.</param>
/// <param name="Width">Upright width as stored in the file, in pixels.</param>
/// <param name="Height">Upright height as stored in the file.</param>
/// <param name="GreyShare">Share of pixels whose channels differ by at most 20 of 255 (near-grey), 0..1.</param>
/// <param name="Saturation">Mean HSV saturation, (max − min) / max per pixel, 0..1.</param>
/// <param name="Brightness">Mean of (R + G + B) / 3, 0..1.</param>
public sealed record PhotoStatistics(ImageEntry Image, int Width, int Height, double GreyShare, double Saturation, double Brightness)
{
    /// <summary>The colour statistics by name, as the audit reports them.</summary>
    public IReadOnlyList<(string Name, double Value)> Colour => [("grey share", GreyShare), ("saturation", Saturation), ("brightness", Brightness)];

    /// <summary>Computes the statistics of every photo, in parallel; photos that cannot be read or decoded are skipped.</summary>
    internal static (IReadOnlyList<PhotoStatistics> Statistics, IReadOnlyList<SkippedImage> Skipped) Of(IReadOnlyList<ImageEntry> photos, long maxPhotoBytes, int parallelism, CancellationToken cancellationToken)
    {
        var results = new PhotoStatistics?[photos.Count];
        var reasons = new string?[photos.Count];
        Parallel.For(0, photos.Count, new ParallelOptions { MaxDegreeOfParallelism = parallelism, CancellationToken = cancellationToken }, () => (Buffer: Array.Empty<byte>(), Rgba: new byte[64 * 64 * 4]), (i, _, local) =>
        {
            try
            {
                var bytes = PhotoFile.Read(photos[i].Path, maxPhotoBytes, ref local.Buffer).Span;
                using var image = ImageDecoder.Decode(bytes, photos[i].Path, 64);
                image.RenderTo(64, 64, image.Place(64, 64, ViewFraming.Squash, 1), local.Rgba);
                results[i] = Measure(photos[i], image.OriginalWidth, image.OriginalHeight, local.Rgba);
            }
            catch (ImageDecodeException e)
            {
                reasons[i] = e.Reason;
            }

            return local;
        }, _ => { });
        return (results.OfType<PhotoStatistics>().ToArray(), Enumerable.Range(0, photos.Count).Where(i => reasons[i] is not null).Select(i => new SkippedImage(photos[i], reasons[i]!)).ToArray());
    }

    /// <summary>The statistics of opaque RGBA pixels.</summary>
    internal static PhotoStatistics Measure(ImageEntry image, int width, int height, ReadOnlySpan<byte> rgba)
    {
        double grey = 0, saturation = 0, brightness = 0;
        var pixels = rgba.Length / 4;
        for (var p = 0; p < pixels; p++)
        {
            int r = rgba[4 * p], g = rgba[(4 * p) + 1], b = rgba[(4 * p) + 2];
            int max = Math.Max(r, Math.Max(g, b)), min = Math.Min(r, Math.Min(g, b));
            grey += max - min <= 20 ? 1 : 0;
            saturation += max == 0 ? 0 : (max - min) / (double)max;
            brightness += (r + g + b) / 765.0;
        }

        return new PhotoStatistics(image, width, height, grey / pixels, saturation / pixels, brightness / pixels);
    }
}

/// <summary>Tukey's fences of one statistic: values outside [Q1 − k·IQR, Q3 + k·IQR] are outliers.</summary>
/// <param name="Name">The statistic.</param>
/// <param name="Q1">First quartile.</param>
/// <param name="Q3">Third quartile.</param>
/// <param name="Low">Lower fence.</param>
/// <param name="High">Upper fence.</param>
public sealed record Fences(string Name, double Q1, double Q3, double Low, double High)
{
    /// <summary>The fences of <paramref name="values"/> with factor <paramref name="k"/> (quartiles by linear interpolation).</summary>
    public static Fences Of(string name, IReadOnlyList<double> values, double k)
    {
        var sorted = values.Order().ToArray();
        double Quantile(double q)
        {
            if (sorted.Length == 0)
            {
                return double.NaN;
            }

            var at = q * (sorted.Length - 1);
            var lower = (int)Math.Floor(at);
            return sorted[lower] + ((at - lower) * (sorted[Math.Min(lower + 1, sorted.Length - 1)] - sorted[lower]));
        }

        double q1 = Quantile(0.25), q3 = Quantile(0.75), iqr = q3 - q1;
        return new Fences(name, q1, q3, q1 - (k * iqr), q3 + (k * iqr));
    }

    /// <summary>Whether <paramref name="value"/> lies outside the fences.</summary>
    public bool Outside(double value) => value < Low || value > High;
}
