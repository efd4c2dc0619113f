using CatsDogs.ML.Backbones;
using CatsDogs.ML.Data;
using CatsDogs.ML.Imaging;
using CatsDogs.ML.Onnx;
using CatsDogs.ML.Onnx.Quantization;

namespace CatsDogs.ML.Features;

/// <summary>
/// Calibrates int8 backbones for training: <see cref="FeatureOptions.CalibrationPhotos"/> training photos drawn
/// stratified by label with the seed, decoded, rendered and written as tensors by the very <see cref="PhotoSource"/>
/// size, <see cref="PhotoViews"/> rendering and <see cref="TensorWriter"/> the features use, one tensor per view that
/// runs at the backbone's own input size; then <see cref="StaticQuantizer.Calibrate"/> on the float32 file.
/// </summary>
internal static class BackboneCalibration
{
    /// <summary>
    /// One calibration per backbone of <paramref name="options"/>, read from its float32 file. No float32 session is
    /// opened besides the calibration graph's own, one backbone at a time: training ResNet18 in int8 peaked at twice
    /// the float32 memory when the float32 backbones stayed open beside it.
    /// </summary>
    /// <exception cref="ArgumentException">No photo of the draw could be decoded.</exception>
    /// <exception cref="BackboneFileNotFoundException">A backbone file is missing.</exception>
    /// <exception cref="BackboneMismatchException">A backbone file is not the one the catalogue names.</exception>
    public static IReadOnlyList<QuantizationCalibration> Calibrate(FeatureOptions options, IReadOnlyList<ImageEntry> photos, int seed, CancellationToken cancellationToken)
    {
        var decodeSize = PhotoViews.MinDecodeSize(options.Backbones.Select(s => s.Preprocessing), options.Views);
        var drawn = Draw(photos, options.CalibrationPhotos, seed, decodeSize, options.MaxPhotoBytes, cancellationToken);
        var calibrations = new List<QuantizationCalibration>();
        foreach (var spec in options.Backbones)
        {
            var (writer, _) = Backbone.WriterFor(spec, options.ModelsDirectory);

            // The calibration graph runs at the file's own input size: views asking for another size share its scales.
            var views = options.Views.Where(v => v.InputFor(spec.Preprocessing) == spec.Preprocessing).ToArray();
            var record = StaticQuantizer.Calibrate(
                Backbone.ReadFile(spec, options.ModelsDirectory).Bytes,
                new QuantizationOptions { InputName = spec.InputName, FeatureMap = spec.FeatureMapName! },
                Samples(drawn, spec, views, writer, decodeSize, options.MaxPhotoBytes, cancellationToken));

            // The calibration session is gone; its memory goes back before the next backbone's, or the int8 sessions.
            ProcessMemory.Release();
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

    // Each drawn photo decoded, rendered and written as the features are (PhotoSource size, PhotoViews, TensorWriter).
    private static IEnumerable<CalibrationSample> Samples(IReadOnlyList<(string Path, string Sha256)> drawn, BackboneSpec spec, ImageView[] views, TensorWriter writer, int decodeSize, long maxBytes, CancellationToken cancellationToken)
    {
        var source = new PhotoSource(decodeSize, maxBytes);
        var scratch = new RenderScratch();
        var buffer = Array.Empty<byte>();

        // One tensor, rewritten for each sample: the quantizer reads each before it asks for the next.
        var tensor = new float[writer.Length];
        foreach (var (path, sha) in drawn)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var bytes = source.Read(path, ref buffer);
            using var photo = source.Decode(bytes.Span, path, scratch);
            foreach (var view in views)
            {
                writer.Write(photo.Render(spec.Preprocessing, view), tensor);
                yield return new CalibrationSample(sha, tensor);
            }
        }
    }
}
