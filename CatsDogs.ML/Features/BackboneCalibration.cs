using CatsDogs.ML.Backbones;
using CatsDogs.ML.Data;
using CatsDogs.ML.Imaging;
using CatsDogs.ML.Onnx.Quantization;

namespace CatsDogs.ML.Features;

/// <summary>
/// Calibrates int8 backbones for training: <see cref="FeatureOptions.CalibrationPhotos"/> training photos drawn
/// stratified by label with the seed, decoded, rendered and written as tensors by the very <see cref="PhotoSource"/>
/// size, <see cref="ViewRenderer"/> and <see cref="TensorWriter"/> the features use, one tensor per view that runs at
/// the backbone's own input size; then <see cref="StaticQuantizer.Calibrate"/> on the float32 file.
/// </summary>
internal static class BackboneCalibration
{
    /// <summary>One calibration per backbone of <paramref name="fp32"/> (opened in float32, with every view's size).</summary>
    /// <exception cref="ArgumentException">No photo of the draw could be decoded.</exception>
    /// <exception cref="BackboneMismatchException">A backbone file changed since it was opened.</exception>
    public static IReadOnlyList<QuantizationCalibration> Calibrate(BackboneSet fp32, FeatureOptions options, IReadOnlyList<ImageEntry> photos, int seed, CancellationToken cancellationToken)
    {
        var decodeSize = PhotoViews.MinDecodeSize(fp32.Select(b => b.Spec.Preprocessing), options.Views);
        var drawn = Draw(photos, options.CalibrationPhotos, seed, decodeSize, options.MaxPhotoBytes, cancellationToken);
        var renderer = new ViewRenderer(fp32, options.Views);
        var calibrations = new List<QuantizationCalibration>();
        for (var b = 0; b < fp32.Count; b++)
        {
            var backbone = fp32[b];
            var spec = backbone.Spec;
            var file = ModelFiles.Read(backbone.ModelPath, spec);
            if (ModelFiles.Sha256(backbone.ModelPath, file) != backbone.ModelSha256)
            {
                throw new BackboneMismatchException(backbone.ModelPath, $"'{backbone.ModelPath}' for backbone '{spec.Name}' changed during training; put the original file back. {spec.HowToObtain}");
            }

            // The calibration graph runs at the file's own input size: views asking for another size share its scales.
            var slots = Enumerable.Range(0, options.Views.Count).Where(v => options.Views[v].InputFor(spec.Preprocessing) == spec.Preprocessing).Select(v => new ViewSlot(b, v)).ToArray();
            var record = StaticQuantizer.Calibrate(
                file,
                new QuantizationOptions { InputName = spec.InputName, FeatureMap = spec.FeatureMapName! },
                Samples(drawn, slots, renderer, decodeSize, options.MaxPhotoBytes, cancellationToken));
            calibrations.Add(record with { PhotoSha256 = record.PhotoSha256.Distinct(StringComparer.Ordinal).ToArray() });
        }

        return calibrations;
    }

    /// <summary>
    /// Up to <paramref name="count"/> decodable photos, cats and dogs in the training set's proportion, each class in
    /// the order of a seeded shuffle of its paths (so the draw depends on the seed and the files, not on listing order).
    /// </summary>
    internal static IReadOnlyList<(string Path, string Sha256)> Draw(IReadOnlyList<ImageEntry> photos, int count, int seed, int decodeSize, long maxBytes, CancellationToken cancellationToken)
    {
        var classes = photos.Where(p => p.Label is not null).GroupBy(p => p.Label!.Value).OrderBy(g => g.Key)
            .Select(g => g.Select(p => p.Path).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray()).ToArray();
        var total = classes.Sum(c => c.Length);
        var drawn = new List<(string, string)>();
        var source = new PhotoSource(decodeSize, maxBytes);
        var scratch = new RenderScratch();
        var buffer = Array.Empty<byte>();
        var left = Math.Min(count, total);
        for (var c = 0; c < classes.Length; c++)
        {
            var paths = classes[c];
            new Random(seed + c).Shuffle(paths);
            var quota = c == classes.Length - 1 ? left : (int)Math.Round((double)Math.Min(count, total) * paths.Length / total, MidpointRounding.AwayFromZero);
            var taken = 0;
            foreach (var path in paths.TakeWhile(_ => taken < quota))
            {
                cancellationToken.ThrowIfCancellationRequested();
                try
                {
                    var bytes = source.Read(path, ref buffer);
                    using var _ = source.Decode(bytes.Span, path, scratch);
                    drawn.Add((path, PhotoSource.Sha256(bytes.Span)));
                    taken++;
                }
                catch (ImageDecodeException)
                {
                    // Extraction lists the photo as skipped, with its reason; the draw takes the next one.
                }
            }

            left -= taken;
        }

        return drawn.Count > 0 ? drawn : throw new ArgumentException("Int8 calibration found no decodable labelled photo among the training photos.");
    }

    private static IEnumerable<CalibrationSample> Samples(IReadOnlyList<(string Path, string Sha256)> drawn, ViewSlot[] slots, ViewRenderer renderer, int decodeSize, long maxBytes, CancellationToken cancellationToken)
    {
        var source = new PhotoSource(decodeSize, maxBytes);
        var scratch = new RenderScratch();
        var buffer = Array.Empty<byte>();
        var tensors = new float[slots.Length][];
        foreach (var (path, sha) in drawn)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var bytes = source.Read(path, ref buffer);
            using var photo = source.Decode(bytes.Span, path, scratch);
            var pixels = renderer.Render(photo, slots);
            for (var k = 0; k < slots.Length; k++)
            {
                // One tensor, rewritten for each sample: the quantizer reads each before it asks for the next.
                tensors[k] ??= new float[renderer.TensorLength(slots[k])];
                renderer.WriteTensor(slots[k], pixels[k], tensors[k]!);
                yield return new CalibrationSample(sha, tensors[k]!);
            }
        }
    }
}
