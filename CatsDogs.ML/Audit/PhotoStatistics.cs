using CatsDogs.ML.Data;
using CatsDogs.ML.Imaging;

namespace CatsDogs.ML.Audit;

/// <summary>
/// Simple statistics of one photo, for the audit's size and colour tests: its upright size as stored, and four colour
/// statistics over a small rendering of it (<see cref="RenderSide"/> × <see cref="RenderSide"/>). They are chosen
/// because pet photos are natural-coloured: <see cref="GreyShare"/> finds black-and-white photos, scans and sketches;
/// <see cref="Saturation"/> finds cartoons, logos and signs in vivid flat colours (and washed-out, faded ones);
/// <see cref="Brightness"/> finds graphics on a white background and very dark frames; <see cref="ColourRatio"/>, the
/// original work's colour test, finds flat graphics, text and solid frames.
/// </summary>
/// <param name="Image">The photo.</param>
/// <param name="Width">Upright width as stored in the file, in pixels.</param>
/// <param name="Height">Upright height as stored in the file.</param>
/// <param name="GreyShare">Share of pixels whose channels differ by at most 20 of 255 (near-grey), 0..1.</param>
/// <param name="Saturation">Mean HSV saturation, (max − min) / max per pixel, 0..1.</param>
/// <param name="Brightness">Mean of (R + G + B) / 3, 0..1.</param>
/// <param name="ColourRatio">
/// The colour-to-pixel ratio: distinct colours ÷ pixels of the rendering, with each channel cut to its top
/// <see cref="ColourBits"/> bits, 0..1. A flat or near-flat picture has a handful of colours (a flat grey: 1 of 4,096).
/// </param>
public sealed record PhotoStatistics(ImageEntry Image, int Width, int Height, double GreyShare, double Saturation, double Brightness, double ColourRatio)
{
    /// <summary>
    /// Side of the square rendering the colour statistics are measured on (the whole photo squashed). Distinct colours
    /// cannot outgrow the photo's palette, so on the stored pixels the colour-to-pixel ratio of a large photo falls
    /// with its size alone; on one fixed size it measures flatness, and the averaging of the downsample smooths away
    /// the JPEG noise and grain that would otherwise give a flat frame hundreds of "colours".
    /// </summary>
    public const int RenderSide = 64;

    /// <summary>
    /// Bits kept per channel when colours are counted (32 levels each): shades closer than 8 of 255 count as one
    /// colour, so a near-flat picture (a faint gradient, a noisy solid frame) is as flat as a flat one.
    /// </summary>
    public const int ColourBits = 5;

    /// <summary>
    /// The colour statistics by name, as the audit fences them. The colour ratio enters as its base-10 logarithm: it
    /// spans orders of magnitude (a flat frame 1/4,096, a photo about 0.1) and is bounded by 0, so on the plain ratio
    /// the lower fence of real photos falls below 0 and nothing flat could ever lie outside it (measured on the 5,285
    /// Kaggle photos: Q1 0.106, Q3 0.184, lower fence −0.010).
    /// </summary>
    public IReadOnlyList<(string Name, double Value)> Colour =>
        [("grey share", GreyShare), ("saturation", Saturation), ("brightness", Brightness), (LogColourRatio, Math.Log10(ColourRatio))];

    /// <summary>The name of the colour-ratio statistic in <see cref="Colour"/>, in the fences and in the outliers' reasons.</summary>
    public const string LogColourRatio = "log10 colour ratio";

    /// <summary>Computes the statistics of every photo, in parallel; photos that cannot be read or decoded are skipped.</summary>
    internal static (IReadOnlyList<PhotoStatistics> Statistics, IReadOnlyList<SkippedImage> Skipped) Of(IReadOnlyList<ImageEntry> photos, long maxPhotoBytes, int parallelism, CancellationToken cancellationToken)
    {
        var results = new PhotoStatistics?[photos.Count];
        var reasons = new string?[photos.Count];
        Parallel.For(0, photos.Count, new ParallelOptions { MaxDegreeOfParallelism = parallelism, CancellationToken = cancellationToken }, () => (Buffer: Array.Empty<byte>(), Rgba: new byte[RenderSide * RenderSide * 4]), (i, _, local) =>
        {
            try
            {
                var bytes = PhotoFile.Read(photos[i].Path, maxPhotoBytes, ref local.Buffer).Span;
                using var image = ImageDecoder.Decode(bytes, photos[i].Path, RenderSide);
                image.RenderTo(RenderSide, RenderSide, image.Place(RenderSide, RenderSide, ViewFraming.Squash, 1), local.Rgba);
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
        const int Drop = 8 - ColourBits;
        Span<ulong> seen = stackalloc ulong[(1 << (3 * ColourBits)) / 64];
        seen.Clear();
        var colours = 0;
        for (var p = 0; p < pixels; p++)
        {
            int r = rgba[4 * p], g = rgba[(4 * p) + 1], b = rgba[(4 * p) + 2];
            var colour = ((r >> Drop) << (2 * ColourBits)) | ((g >> Drop) << ColourBits) | (b >> Drop);
            var bit = 1UL << (colour & 63);
            colours += (seen[colour >> 6] & bit) == 0 ? 1 : 0;
            seen[colour >> 6] |= bit;
            int max = Math.Max(r, Math.Max(g, b)), min = Math.Min(r, Math.Min(g, b));
            grey += max - min <= 20 ? 1 : 0;
            saturation += max == 0 ? 0 : (max - min) / (double)max;
            brightness += (r + g + b) / 765.0;
        }

        return new PhotoStatistics(image, width, height, grey / pixels, saturation / pixels, brightness / pixels, colours / (double)pixels);
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
