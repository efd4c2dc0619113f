using CatsDogs.ML.Backbones;
using CatsDogs.ML.Data;
using CatsDogs.ML.Features;
using CatsDogs.ML.Imaging;
using CatsDogs.ML.Training;

namespace CatsDogs.ML.Explain;

/// <summary>
/// Explains a classifier's predictions with class activation maps. Get one from
/// <see cref="CatsDogsClassifier.CreateExplainer"/> and dispose it when done: it owns one more ONNX Runtime session per
/// backbone, whose graph also outputs the feature map (about 0.5 GiB for the four real backbones), so scoring keeps
/// its lean sessions. A photo goes through the same pipeline as <see cref="CatsDogsClassifier.Predict(string)"/>
/// (decoded once, the same views, tensors and view averaging), so P(dog) is the same. Safe to use from several
/// threads at once, except <see cref="Dispose"/>.
/// </summary>
/// <remarks>
/// Each backbone's map is Σ_k w_k·A_k over its last feature map, with the head's weights for that backbone's
/// features and the feature scaling folded in, averaged over the views (mirrored views flipped back); its grid mean
/// is that backbone's exact share of the score, so <c>Bias + Σ Contribution == Score</c>. The combined map puts each
/// view's map back where that view came from in the photo (bilinear), averages at each pixel the views that showed it
/// (weighted by coverage, so a crop's edge leaves no seam; pixels no view showed get nothing) and is signed for the
/// predicted class.
/// </remarks>
public sealed class Explainer : IDisposable
{
    private readonly BackboneSet _backbones;
    private readonly FeatureExtractor _extractor;
    private readonly IHead _head;
    private readonly float[] _weights;
    private readonly double _bias;
    private bool _disposed;

    internal Explainer(BackboneSet mapBackbones, IReadOnlyList<ImageView> views, IHead head, int maxDegreeOfParallelism, long maxPhotoBytes)
    {
        foreach (var backbone in mapBackbones.Where(b => !b.HasFeatureMap))
        {
            throw new InvalidOperationException($"Backbone '{backbone.Spec.Name}' exposes no feature map: its spec names no FeatureMapName, so it cannot be explained.");
        }

        _backbones = mapBackbones;
        _extractor = new FeatureExtractor(mapBackbones, views, cache: null) { MaxDegreeOfParallelism = maxDegreeOfParallelism, MaxPhotoBytes = maxPhotoBytes };
        _head = head;
        var linear = head.LinearForm ?? throw HeadTrainers.NoLinearForm(head.Kind, "Explaining (CAM)");
        (_weights, _bias) = (linear.Weights, linear.Bias);
    }

    /// <summary>Explains the photo at <paramref name="path"/>.</summary>
    /// <exception cref="ImageDecodeException">The file cannot be read or decoded; the message names it and says why.</exception>
    public Explanation Explain(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var buffer = Array.Empty<byte>();
        return Explain(ImageEntry.FromPath(path), PhotoFile.Read(path, _extractor.MaxPhotoBytes, ref buffer).Span);
    }

    /// <summary>Explains an encoded photo held in memory.</summary>
    /// <exception cref="ImageDecodeException">The bytes are not a usable image.</exception>
    public Explanation Explain(ReadOnlySpan<byte> encodedImage, string source = "bytes") => Explain(new ImageEntry(source), encodedImage);

    /// <summary>
    /// Explains many photos, a few at a time on all cores, handing each explanation to <paramref name="onExplained"/>
    /// in input order as soon as its turn comes, so that memory holds only the photos in flight. Returns the photos
    /// that could not be read or decoded, with reasons.
    /// </summary>
    public IReadOnlyList<SkippedImage> ExplainEach(IEnumerable<ImageEntry> images, Action<Explanation> onExplained, IProgress<CatsDogsProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(onExplained);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var list = images as IReadOnlyList<ImageEntry> ?? images.ToArray();
        var skipped = new List<SkippedImage>();
        var chunk = 2 * _extractor.MaxDegreeOfParallelism;
        var options = new ParallelOptions { MaxDegreeOfParallelism = _extractor.MaxDegreeOfParallelism, CancellationToken = cancellationToken };
        for (var start = 0; start < list.Count; start += chunk)
        {
            var count = Math.Min(chunk, list.Count - start);
            var results = new Explanation?[count];
            var reasons = new string?[count];
            Parallel.For(0, count, options, i =>
            {
                try
                {
                    var buffer = Array.Empty<byte>();
                    var image = list[start + i];
                    results[i] = Explain(image, PhotoFile.Read(image.Path, _extractor.MaxPhotoBytes, ref buffer).Span);
                }
                catch (ImageDecodeException e)
                {
                    reasons[i] = e.Reason;
                }
            });

            for (var i = 0; i < count; i++)
            {
                if (results[i] is { } explained)
                {
                    onExplained(explained);
                }
                else
                {
                    skipped.Add(new SkippedImage(list[start + i], reasons[i]!));
                }
            }

            progress?.Report(new CatsDogsProgress("explain", start + count, list.Count));
        }

        return skipped;
    }

    /// <summary>
    /// Explains many photos; each is either explained or listed as skipped with its reason, in input order, and
    /// equals <see cref="Explain(string)"/> one by one. Keeps every explanation (overlays included) in memory: for
    /// large folders use <see cref="ExplainEach"/>.
    /// </summary>
    public ExplainedBatch ExplainMany(IEnumerable<ImageEntry> images, IProgress<CatsDogsProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var explained = new List<Explanation>();
        var skipped = ExplainEach(images, explained.Add, progress, cancellationToken);
        return new ExplainedBatch(explained, skipped);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            _backbones.Dispose();
        }
    }

    private Explanation Explain(ImageEntry image, ReadOnlySpan<byte> bytes)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var views = _extractor.Views;
        var maps = _backbones.Select(_ => new FeatureMap[views.Count]).ToArray();
        var scratch = _extractor.Rent();
        try
        {
            using var photo = _extractor.ComputeWithMaps(bytes, image.Path, scratch, maps);
            var features = new float[_extractor.Dimension];
            _extractor.Average(scratch, features);
            var (probability, score) = _head.PredictWithScores([features])[0];

            int width = photo.Image.Width, height = photo.Image.Height;
            var dogMap = new float[width * height];
            var coverage = new float[width * height]; // the views are the same for every backbone: counted with the first
            var heatmaps = new BackboneHeatmap[_backbones.Count];
            var viewWeight = 1f / views.Count;
            for (var b = 0; b < _backbones.Count; b++)
            {
                var input = _backbones[b].Spec.Preprocessing;
                var grids = new CamGrid[views.Count];
                var contribution = 0.0;
                for (var v = 0; v < views.Count; v++)
                {
                    var grid = Cam(b, maps[b][v]);
                    grids[v] = views[v].Mirrored ? grid.Flipped() : grid;
                    contribution += viewWeight * grid.Values.Average(x => (double)x);
                    var viewInput = views[v].InputFor(input);
                    CamUpsampling.AddUpsampled(grids[v], photo.Placement(input, views[v]), viewInput.Width, viewInput.Height, viewWeight, dogMap, width, height, b == 0 ? coverage : default);
                }

                heatmaps[b] = new BackboneHeatmap(_backbones[b].Spec.Name, grids[0].Width, grids[0].Height, MeanGrid(grids), contribution);
            }

            CamUpsampling.DivideByCoverage(dogMap, coverage);
            var sign = probability >= 0.5f ? 1f : -1f;
            for (var i = 0; i < dogMap.Length; i++)
            {
                dogMap[i] *= sign;
            }

            var pixels = new byte[width * height * 4];
            photo.Image.RenderTo(pixels);
            HeatmapOverlay.Blend(pixels, dogMap);
            return new Explanation(image, probability, score, _bias, heatmaps, width, height, dogMap, pixels);
        }
        finally
        {
            _extractor.Return(scratch);
        }
    }

    // Σ_k w_k·A_k on the grid of one backbone's feature map (either layout).
    private CamGrid Cam(int b, FeatureMap map)
    {
        var spec = _backbones[b].Spec;
        var nchw = spec.Preprocessing.Layout == TensorLayout.Nchw;
        var shape = map.Shape;
        if (shape.Length != 4 || (nchw ? shape[1] : shape[3]) != spec.FeatureDimension)
        {
            throw new InvalidOperationException($"Feature map '{spec.FeatureMapName}' of '{spec.Name}' has shape [{string.Join(", ", shape)}], not {spec.Preprocessing.Layout} with {spec.FeatureDimension} channels.");
        }

        int channels = spec.FeatureDimension, rows = (int)(nchw ? shape[2] : shape[1]), columns = (int)(nchw ? shape[3] : shape[2]);
        var cells = rows * columns;
        var offset = _extractor.Offset(b);
        var cam = new float[cells];
        for (var cell = 0; cell < cells; cell++)
        {
            var sum = 0.0;
            for (var c = 0; c < channels; c++)
            {
                sum += (double)_weights[offset + c] * map.Values[nchw ? (c * cells) + cell : (cell * channels) + c];
            }

            cam[cell] = (float)sum;
        }

        return new CamGrid(columns, rows, cam);
    }

    // The mean of the views' grids (mirrored ones flipped back) that share the first view's grid size: views at
    // another input size have another grid, and count only in the contribution and the combined map.
    private static float[] MeanGrid(CamGrid[] grids)
    {
        var same = grids.Where(g => g.Width == grids[0].Width && g.Height == grids[0].Height).ToArray();
        var mean = new float[grids[0].Values.Length];
        foreach (var grid in same)
        {
            for (var i = 0; i < mean.Length; i++)
            {
                mean[i] += grid.Values[i] / same.Length;
            }
        }

        return mean;
    }
}

/// <summary>The outcome of <see cref="Explainer.ExplainMany"/>: every input explained or skipped, in input order.</summary>
/// <param name="Explained">Explained photos.</param>
/// <param name="Skipped">Photos that could not be read or decoded, with reasons.</param>
public sealed record ExplainedBatch(IReadOnlyList<Explanation> Explained, IReadOnlyList<SkippedImage> Skipped)
{
    /// <summary>Number of inputs: explained plus skipped.</summary>
    public int Count => Explained.Count + Skipped.Count;
}
