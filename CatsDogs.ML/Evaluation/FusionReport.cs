using System.Diagnostics;
using System.Globalization;
using System.Text;
using CatsDogs.ML.Backbones;
using CatsDogs.ML.Data;
using CatsDogs.ML.Features;
using CatsDogs.ML.Training;

namespace CatsDogs.ML.Evaluation;

/// <summary>One backbone combination of a <see cref="FusionReport"/>, scored on the held-out photos.</summary>
/// <param name="Backbones">The backbones whose features were concatenated, in catalogue order.</param>
/// <param name="FeatureDimension">Length of the concatenated feature vector.</param>
/// <param name="LogLoss">Kaggle log loss on the held-out photos.</param>
/// <param name="Accuracy">Accuracy on the held-out photos.</param>
/// <param name="Auc">Area under the ROC curve on the held-out photos.</param>
/// <param name="L2">The L2 weight cross-validation chose on the training photos.</param>
/// <param name="Excluded">Training photos left out as likely mislabelled.</param>
public sealed record FusionRow(IReadOnlyList<string> Backbones, int FeatureDimension, double LogLoss, double Accuracy, double Auc, float L2, int Excluded)
{
    /// <summary>The combination as <c>a + b + c</c>.</summary>
    public string Name => string.Join(" + ", Backbones);
}

/// <summary>
/// The original work's model-combination table: every single backbone and every combination of the candidates,
/// each trained exactly as <see cref="CatsDogsTrainer"/> would on the same training photos and scored on the same
/// held-out photos, best (lowest log loss) first. Features are extracted once per backbone and sliced per combination.
/// </summary>
public sealed class FusionReport
{
    /// <summary>Up to this many candidates every combination is tried; beyond it, singles, pairs and all together.</summary>
    public const int MaxExhaustiveCandidates = 5;

    private FusionReport(IReadOnlyList<FusionRow> rows, int trainCount, int testCount, IReadOnlyList<SkippedImage> skipped, TimeSpan featureTime, TimeSpan headTime)
    {
        Rows = rows;
        TrainCount = trainCount;
        TestCount = testCount;
        Skipped = skipped;
        FeatureTime = featureTime;
        HeadTime = headTime;
    }

    /// <summary>The combinations, best (lowest log loss) first.</summary>
    public IReadOnlyList<FusionRow> Rows { get; }

    /// <summary>Usable training photos.</summary>
    public int TrainCount { get; }

    /// <summary>Usable held-out photos every row was scored on.</summary>
    public int TestCount { get; }

    /// <summary>Photos that could not be used, with reasons.</summary>
    public IReadOnlyList<SkippedImage> Skipped { get; }

    /// <summary>Time spent extracting (or reading cached) features.</summary>
    public TimeSpan FeatureTime { get; }

    /// <summary>Time spent training and scoring the heads of all combinations.</summary>
    public TimeSpan HeadTime { get; }

    /// <summary>
    /// Splits <paramref name="data"/> with <see cref="ImageDataset.Split"/> (<paramref name="validationFraction"/>,
    /// the head's seed) and evaluates every combination of the feature options' backbones.
    /// </summary>
    public static FusionReport Evaluate(ImageDataset data, FeatureOptions features, HeadOptions head, double validationFraction = 0.2, IProgress<CatsDogsProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(head);
        LabelChecks.RequireLabels(data, "the fusion report");
        var (train, test) = data.Split(validationFraction, head.Seed);
        return Evaluate(train, test, features, head, progress, cancellationToken);
    }

    /// <summary>Trains every combination of the feature options' backbones on <paramref name="train"/> and scores it on <paramref name="test"/>.</summary>
    /// <exception cref="ArgumentException">A photo is unlabelled, or no backbone is given.</exception>
    public static FusionReport Evaluate(ImageDataset train, ImageDataset test, FeatureOptions features, HeadOptions head, IProgress<CatsDogsProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(test);
        features = (features ?? throw new ArgumentNullException(nameof(features))).Validate();
        head = (head ?? throw new ArgumentNullException(nameof(head))).Validate();
        LabelChecks.RequireLabels(test, "the fusion report");

        var specs = features.Backbones;
        using var backbones = features.OpenBackbones();
        var clock = Stopwatch.StartNew();
        var extractor = FeatureExtractor.Create(backbones, features);
        var (trainFeatures, labels) = LabelledFeatures.Extract(extractor, train, "the fusion report's training split", progress, cancellationToken, "features (train)");
        var testFeatures = extractor.Extract(test, progress, cancellationToken, "features (held out)");
        var featureTime = clock.Elapsed;
        clock.Restart();

        var truth = testFeatures.Images.Select(e => e.Label == PetLabel.Dog).ToArray();
        var combinations = Combinations(specs.Count);
        var rows = new List<FusionRow>();
        foreach (var (combination, index) in combinations.Select((c, i) => (c, i)))
        {
            progress?.Report(new CatsDogsProgress("combinations", index, combinations.Count));
            var blocks = combination.Select(b => specs[b].FeatureDimension).ToArray();
            var (fitted, search) = HeadTrainer.Train(Slice(trainFeatures.Features, combination, backbones), labels, blocks, head, cancellationToken);
            var p = fitted.Predict(Slice(testFeatures.Features, combination, backbones)).Select(v => (double)v).ToArray();
            rows.Add(new FusionRow(
                combination.Select(b => specs[b].Name).ToArray(), blocks.Sum(), Metrics.LogLoss(truth, p), Metrics.Accuracy(truth, p), Metrics.Auc(truth, p), search.Best.L2, search.Excluded.Count));
        }

        progress?.Report(new CatsDogsProgress("combinations", combinations.Count, combinations.Count));
        var ordered = rows.OrderBy(r => r.LogLoss).ThenBy(r => r.Backbones.Count).ToArray();
        return new FusionReport(ordered, trainFeatures.Images.Count, testFeatures.Images.Count, [.. trainFeatures.Skipped, .. testFeatures.Skipped], featureTime, clock.Elapsed);
    }

    /// <summary>The table as Markdown (combination, dimension, log loss, accuracy, AUC, L2), best first.</summary>
    public string ToMarkdown()
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"Trained on {TrainCount} photos, scored on {TestCount} held-out photos ({Skipped.Count} skipped).");
        text.AppendLine();
        text.AppendLine("| backbones | features | log loss | accuracy | AUC | L2 | left out |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|---:|");
        foreach (var row in Rows)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"| {row.Name} | {row.FeatureDimension} | {row.LogLoss:F4} | {row.Accuracy:P2} | {row.Auc:F4} | {row.L2:G4} | {row.Excluded} |");
        }

        return text.ToString();
    }

    // Every non-empty subset (in catalogue order within a subset) for a few candidates; else singles, pairs and all.
    private static IReadOnlyList<int[]> Combinations(int n)
    {
        if (n == 0)
        {
            throw new ArgumentException("The fusion report needs at least one backbone.");
        }

        if (n <= MaxExhaustiveCandidates)
        {
            return Enumerable.Range(1, (1 << n) - 1)
                .Select(mask => Enumerable.Range(0, n).Where(b => (mask & (1 << b)) != 0).ToArray())
                .OrderBy(c => c.Length)
                .ThenBy(c => string.Join(",", c.Select(b => b.ToString("D2", CultureInfo.InvariantCulture))), StringComparer.Ordinal)
                .ToArray();
        }

        var singles = Enumerable.Range(0, n).Select(b => new[] { b });
        var pairs = Enumerable.Range(0, n).SelectMany(a => Enumerable.Range(a + 1, n - a - 1).Select(b => new[] { a, b }));
        return [.. singles, .. pairs, Enumerable.Range(0, n).ToArray()];
    }

    private static float[][] Slice(IReadOnlyList<float[]> features, int[] combination, BackboneSet backbones) =>
        features.Select(f =>
        {
            var sliced = new float[combination.Sum(b => backbones[b].Spec.FeatureDimension)];
            var at = 0;
            foreach (var b in combination)
            {
                var width = backbones[b].Spec.FeatureDimension;
                Array.Copy(f, backbones.Offsets[b], sliced, at, width);
                at += width;
            }

            return sliced;
        }).ToArray();
}
