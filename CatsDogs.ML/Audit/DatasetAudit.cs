using CatsDogs.ML.Backbones;
using CatsDogs.ML.Data;
using CatsDogs.ML.Features;
using CatsDogs.ML.Training;

namespace CatsDogs.ML.Audit;

/// <summary>How a labelled folder is audited.</summary>
public sealed record AuditOptions
{
    /// <summary>The backbone whose ImageNet head names what each photo shows (default <see cref="KnownBackbones.MobileNetV2"/>).</summary>
    public BackboneSpec ImageNetClassifier { get; init; } = KnownBackbones.MobileNetV2;

    /// <summary>A photo is flagged when none of its top-k ImageNet classes is a cat or a dog (default 5).</summary>
    public int TopK { get; init; } = 5;

    /// <summary>
    /// A photo is flagged when the out-of-fold cat/dog model gives its label at most 1 − this (default 0.9: the model
    /// is at least 90% sure of the other class).
    /// </summary>
    public double ConfidentAt { get; init; } = 0.9;

    /// <summary>Backbones, views, models folder and cache of the cat/dog model (defaults: those of <see cref="FeatureOptions"/>, views <see cref="Imaging.ImageView.Defaults"/>).</summary>
    public FeatureOptions Features { get; init; } = new();

    /// <summary>Folds and seed of the cross-validation that gives each photo its out-of-fold P(dog).</summary>
    public HeadOptions Head { get; init; } = new();

    /// <summary>Photos with a side shorter than this many pixels are flagged as tiny (default 50, the original work's limit).</summary>
    public int MinSide { get; init; } = 50;

    /// <summary>Tukey's factor for the colour outliers: flagged outside Q1 − k·IQR … Q3 + k·IQR (default 1.5).</summary>
    public double IqrFactor { get; init; } = 1.5;

    /// <summary>Checks every value before any work; the message names the wrong one.</summary>
    /// <exception cref="ArgumentException">A value is out of range.</exception>
    public AuditOptions Validate()
    {
        if (TopK is < 1 or > 1000)
        {
            throw new ArgumentException($"TopK must be between 1 and 1000; got {TopK}.");
        }

        if (!(ConfidentAt >= 0.5 && ConfidentAt <= 1))
        {
            throw new ArgumentException($"ConfidentAt must be between 0.5 and 1; got {ConfidentAt}.");
        }

        if (MinSide is < 1 or > 10000 || !(IqrFactor > 0 && IqrFactor <= 100))
        {
            throw new ArgumentException($"MinSide must be between 1 and 10000 and IqrFactor in (0, 100]; got {MinSide} and {IqrFactor}.");
        }

        if (ImageNetClassifier?.ImageNetHead is null)
        {
            throw new ArgumentException($"Backbone '{ImageNetClassifier?.Name}' has no ImageNet head; use one that has (e.g. mobilenet_v2).");
        }

        Features.Validate();
        Head.Validate();
        return this;
    }
}

/// <summary>One of a photo's most likely ImageNet classes.</summary>
/// <param name="ImageNetClass">The class number, 0–999.</param>
/// <param name="Name">Its name (from the labels file), or <c>class N</c>.</param>
/// <param name="Probability">Its probability.</param>
public sealed record ImageNetGuess(int ImageNetClass, string Name, double Probability);

/// <summary>A photo the audit flags.</summary>
/// <param name="Image">The photo and its label.</param>
/// <param name="NoCatOrDogInTopK">None of its top-k ImageNet classes is a cat or a dog.</param>
/// <param name="LabelContradicted">The out-of-fold model is confident of the other class.</param>
/// <param name="DogProbability">The out-of-fold model's P(dog).</param>
/// <param name="TopClasses">Its most likely ImageNet classes, best first.</param>
public sealed record AuditFinding(ImageEntry Image, bool NoCatOrDogInTopK, bool LabelContradicted, double DogProbability, IReadOnlyList<ImageNetGuess> TopClasses)
{
    /// <summary>Its size and colour statistics.</summary>
    public PhotoStatistics? Statistics { get; init; }

    /// <summary>A side is shorter than <see cref="AuditOptions.MinSide"/>.</summary>
    public bool Tiny { get; init; }

    /// <summary>The colour statistics outside their fences (e.g. "grey share high").</summary>
    public IReadOnlyList<string> ColourOutliers { get; init; } = [];

    /// <summary>Whether the ImageNet or contradicted-label test flagged it (the original audit's two tests).</summary>
    public bool FlaggedByModels => NoCatOrDogInTopK || LabelContradicted;

    /// <summary>Why the photo is flagged, in words.</summary>
    public string Reason => string.Join("; ", new[]
    {
        NoCatOrDogInTopK ? $"ImageNet sees no cat or dog (top: {string.Join(", ", TopClasses.Take(3).Select(c => $"{c.Name} {c.Probability:P0}"))})" : null,
        LabelContradicted ? $"labelled {Image.Label?.ToString().ToLowerInvariant()}, but the model gives P(dog) = {DogProbability:F3}" : null,
        Tiny ? $"tiny: {Statistics!.Width}×{Statistics.Height} px" : null,
        ColourOutliers.Count > 0 ? $"colour outlier: {string.Join(", ", ColourOutliers)}" : null,
    }.Where(r => r is not null));
}

/// <summary>
/// The original work's data audit, in full: every photo's size (and the tiny ones), colour outliers by Tukey's fences
/// over simple per-photo statistics (<see cref="PhotoStatistics"/>), photos that show neither a cat nor a dog
/// (ImageNet top-k of a backbone's classifier head has no class 151–268 or 281–285), and photos whose label a
/// confident out-of-fold cat/dog model contradicts (cross-validated on the folder itself, so no photo is judged by a
/// model that saw it).
/// </summary>
public static class DatasetAudit
{
    /// <summary>Audits <paramref name="data"/>; unreadable photos are listed in <see cref="AuditReport.Skipped"/>.</summary>
    /// <exception cref="ArgumentException">A photo is unlabelled, the classifier has no ImageNet head, or a class has too few photos.</exception>
    public static AuditReport Run(ImageDataset data, AuditOptions? options = null, IProgress<CatsDogsProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        options = (options ?? new AuditOptions()).Validate();
        var features = options.Features;
        LabelChecks.RequireLabels(data, "the audit");

        var head = options.ImageNetClassifier.ImageNetHead ?? throw new ArgumentException(
            $"Backbone '{options.ImageNetClassifier.Name}' has no ImageNet head; use one that has (e.g. mobilenet_v2).");

        // What ImageNet sees in each photo.
        IReadOnlyDictionary<string, float[]> probabilities;
        string[] names;
        var skipped = new Dictionary<string, SkippedImage>(StringComparer.Ordinal);
        using (var classifier = BackboneSet.Open([options.ImageNetClassifier], features.ModelsDirectory, device: features.Device))
        {
            names = ClassNames(options.ImageNetClassifier, head, features.ModelsDirectory);
            var extracted = FeatureExtractor.Create(classifier, features, BackboneOutput.ImageNetHead).Extract(data, progress, cancellationToken, "ImageNet classes");
            probabilities = extracted.Images.Select((e, i) => (e.Path, extracted.Features[i])).ToDictionary(t => t.Path, t => t.Item2, StringComparer.Ordinal);
            foreach (var s in extracted.Skipped)
            {
                skipped[s.Image.Path] = s;
            }
        }

        // What a cross-validated cat/dog model thinks of each label.
        IReadOnlyDictionary<string, double> dogProbability;
        using (var backbones = features.OpenBackbones())
        {
            var extractor = FeatureExtractor.Create(backbones, features);
            var (extracted, labels) = LabelledFeatures.Extract(extractor, data, "the audit", progress, cancellationToken);
            foreach (var s in extracted.Skipped)
            {
                skipped.TryAdd(s.Image.Path, s);
            }

            progress?.Report(new CatsDogsProgress("cross-validation", 0, 1));
            var (_, search) = HeadTrainer.Train(extracted.Features, labels, LabelledFeatures.Blocks(extractor), options.Head with { MislabelThreshold = 0 }, cancellationToken);
            progress?.Report(new CatsDogsProgress("cross-validation", 1, 1));
            dogProbability = extracted.Images.Select((e, i) => (e.Path, search.OutOfFold[i])).ToDictionary(t => t.Path, t => t.Item2, StringComparer.Ordinal);
        }

        progress?.Report(new CatsDogsProgress("size and colour", 0, data.Count));
        var (statistics, unreadable) = PhotoStatistics.Of(data, features.MaxPhotoBytes, features.MaxDegreeOfParallelism, cancellationToken);
        progress?.Report(new CatsDogsProgress("size and colour", data.Count, data.Count));
        foreach (var s in unreadable)
        {
            skipped.TryAdd(s.Image.Path, s);
        }

        var byPath = statistics.ToDictionary(s => s.Image.Path, StringComparer.Ordinal);
        var usable = statistics.Where(s => !skipped.ContainsKey(s.Image.Path)).ToArray();
        var fences = usable.Length == 0 ? [] : usable[0].Colour.Select((c, k) => Fences.Of(c.Name, usable.Select(s => s.Colour[k].Value).ToArray(), options.IqrFactor)).ToArray();
        var findings = new List<AuditFinding>();
        foreach (var image in data.Where(e => !skipped.ContainsKey(e.Path)))
        {
            var p = probabilities[image.Path];
            var top = Enumerable.Range(0, 1000)
                .Select(c => new ImageNetGuess(c, names[c], p[c + head.FirstClassIndex]))
                .OrderByDescending(g => g.Probability)
                .Take(Math.Max(options.TopK, 3))
                .ToArray();
            var noPet = !top.Take(options.TopK).Any(g => ImageNetHead.IsDogClass(g.ImageNetClass) || ImageNetHead.IsCatClass(g.ImageNetClass));
            var dog = dogProbability[image.Path];
            var contradicted = (image.Label == PetLabel.Dog ? dog : 1 - dog) <= 1 - options.ConfidentAt;
            var stats = byPath[image.Path];
            var tiny = Math.Min(stats.Width, stats.Height) < options.MinSide;
            var colour = fences.Select((f, k) => (f, value: stats.Colour[k].Value)).Where(t => t.f.Outside(t.value))
                .Select(t => $"{t.f.Name} {(t.value > t.f.High ? "high" : "low")}").ToArray();
            if (noPet || contradicted || tiny || colour.Length > 0)
            {
                findings.Add(new AuditFinding(image, noPet, contradicted, dog, top) { Statistics = stats, Tiny = tiny, ColourOutliers = colour });
            }
        }

        return new AuditReport(data.Count, findings, data.Where(e => skipped.ContainsKey(e.Path)).Select(e => skipped[e.Path]).ToArray(), options, usable, fences);
    }

    // Names by ImageNet class (0–999) from the head's labels file, or "class N" without one.
    private static string[] ClassNames(BackboneSpec spec, ImageNetHead head, string? modelsDirectory)
    {
        var names = Enumerable.Range(0, 1000).Select(c => $"class {c}").ToArray();
        if (head.LabelsFile is null)
        {
            return names;
        }

        string[] lines;
        try
        {
            var path = ModelFiles.Locate(spec, head.LabelsFile, modelsDirectory);
            lines = System.Text.Encoding.UTF8.GetString(ModelFiles.Read(path, spec, ModelFiles.MaxLabelsBytes)).Split('\n');
        }
        catch (CatsDogsException)
        {
            return names; // names are a courtesy; the audit itself only needs class numbers
        }

        for (var c = 0; c < 1000 && c + head.FirstClassIndex < lines.Length; c++)
        {
            names[c] = lines[c + head.FirstClassIndex].Split(',')[0].Trim();
        }

        return names;
    }
}
