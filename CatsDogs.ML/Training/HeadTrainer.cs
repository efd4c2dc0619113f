using CatsDogs.ML.Data;

namespace CatsDogs.ML.Training;

/// <summary>The cross-validated log loss and accuracy of one L2 weight tried by the regularisation search.</summary>
/// <param name="L2">The L2 weight.</param>
/// <param name="ValidationLogLoss">Out-of-fold log loss over all training photos.</param>
/// <param name="ValidationAccuracy">Out-of-fold accuracy over all training photos.</param>
public sealed record RegularizationTrial(float L2, double ValidationLogLoss, double ValidationAccuracy)
{
    /// <summary>The log loss of each fold's held-out photos (their spread shows how sure the choice of L2 is).</summary>
    public IReadOnlyList<double> FoldLogLosses { get; init; } = [];

    /// <summary>Equal when every value is, the fold losses compared element by element.</summary>
    public bool Equals(RegularizationTrial? other) =>
        other is not null && L2 == other.L2 && ValidationLogLoss == other.ValidationLogLoss && ValidationAccuracy == other.ValidationAccuracy
        && FoldLogLosses.SequenceEqual(other.FoldLogLosses);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(L2, ValidationLogLoss, ValidationAccuracy, FoldLogLosses.Count);
}

/// <summary>What the head trainer decided, besides the head itself.</summary>
/// <param name="Trials">Every L2 weight tried, in grid order.</param>
/// <param name="Best">The chosen one.</param>
/// <param name="OutOfFold">Each photo's P(dog) from the fold model that did not see it, at the chosen L2.</param>
/// <param name="Excluded">Indices of the photos left out of the final fit as likely mislabelled.</param>
/// <param name="Folds">Folds actually used: the requested number, or fewer when a class has fewer photos.</param>
/// <param name="SubmissionClip">The symmetric clip of the out-of-fold predictions that minimises their log loss.</param>
internal sealed record HeadSearch(IReadOnlyList<RegularizationTrial> Trials, RegularizationTrial Best, IReadOnlyList<double> OutOfFold, IReadOnlyList<int> Excluded, int Folds, double SubmissionClip);

/// <summary>
/// Fits the head of kind <see cref="HeadOptions.Kind"/> (<see cref="IHeadTrainer"/>): scales the features
/// (<see cref="FeatureScaler"/>), chooses the L2 weight by stratified k-fold cross-validation, leaves out photos whose
/// label the out-of-fold model confidently contradicts (the original work's outlier cleaning), and refits on the rest.
/// </summary>
internal static class HeadTrainer
{
    /// <summary>At most this share of the photos is ever left out as mislabelled.</summary>
    public const double MaxExcludedShare = 0.02;

    /// <summary>The clips <see cref="BestClip"/> chooses from: none (Kaggle's 1e-15) up to the original work's 0.005 and beyond.</summary>
    public static readonly double[] ClipGrid = [1e-15, 1e-6, 1e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2];

    /// <summary>The symmetric clip [c, 1 − c] that minimises the log loss of <paramref name="probabilities"/> (ties: the smaller clip).</summary>
    public static double BestClip(IReadOnlyList<bool> isDog, IReadOnlyList<double> probabilities) =>
        ClipGrid.MinBy(c => Metrics.LogLoss(isDog, probabilities.Select(p => Math.Clamp(p, c, 1 - c)).ToArray()));

    public static (IHead Head, HeadSearch Search) Train(
        IReadOnlyList<float[]> features,
        IReadOnlyList<PetLabel> labels,
        IReadOnlyList<int> blocks,
        HeadOptions options,
        CancellationToken cancellationToken)
    {
        options.Validate();
        var kind = HeadTrainers.Of(options.Kind);

        var scaler = FeatureScaler.Fit(features, blocks);
        var scaled = features.Select(f => scaler.Apply(f)).ToArray();
        var isDog = labels.Select(l => l == PetLabel.Dog).ToArray();
        var folds = Math.Clamp(options.Folds, 2, Math.Min(labels.Count(l => l == PetLabel.Cat), labels.Count(l => l == PetLabel.Dog)));
        var fold = DataSplit.StratifiedFolds(labels, folds, options.Seed);

        // One job per (L2, fold): all cores stay busy even with a short grid.
        var outOfFold = options.L2Grid.Select(_ => new double[features.Count]).ToArray();
        var jobs = options.L2Grid.SelectMany((_, k) => Enumerable.Range(0, folds).Select(f => (k, f))).ToArray();
        Parallel.ForEach(jobs, new ParallelOptions { MaxDegreeOfParallelism = options.MaxDegreeOfParallelism, CancellationToken = cancellationToken }, job =>
        {
            var fit = Enumerable.Range(0, scaled.Length).Where(i => fold[i] != job.f).ToArray();
            var held = Enumerable.Range(0, scaled.Length).Where(i => fold[i] == job.f).ToArray();
            var model = kind.Fit(fit.Select(i => scaled[i]).ToArray(), fit.Select(i => isDog[i]).ToArray(), options.L2Grid[job.k], options.Seed, scaler);
            var p = model.PredictScaled(held.Select(i => scaled[i]).ToArray());
            for (var i = 0; i < held.Length; i++)
            {
                outOfFold[job.k][held[i]] = p[i];
            }
        });

        double FoldLoss(int k, int f)
        {
            var held = Enumerable.Range(0, isDog.Length).Where(i => fold[i] == f).ToArray();
            return Metrics.LogLoss(held.Select(i => isDog[i]).ToArray(), held.Select(i => outOfFold[k][i]).ToArray());
        }

        var trials = options.L2Grid.Select((l2, k) => new RegularizationTrial(l2, Metrics.LogLoss(isDog, outOfFold[k]), Metrics.Accuracy(isDog, outOfFold[k]))
        {
            FoldLogLosses = Enumerable.Range(0, folds).Select(f => FoldLoss(k, f)).ToArray(),
        }).ToArray();
        // Ties go to the stronger regularisation, which generalises more safely.
        var bestIndex = Enumerable.Range(0, trials.Length).OrderBy(k => trials[k].ValidationLogLoss).ThenByDescending(k => trials[k].L2).First();
        var best = trials[bestIndex];
        var oof = outOfFold[bestIndex];

        var excluded = options.MislabelThreshold > 0
            ? Enumerable.Range(0, oof.Length)
                .Select(i => (i, pLabel: isDog[i] ? oof[i] : 1 - oof[i]))
                .Where(t => t.pLabel < options.MislabelThreshold)
                .OrderBy(t => t.pLabel)
                .Take((int)(MaxExcludedShare * oof.Length))
                .Select(t => t.i)
                .Order()
                .ToArray()
            : [];
        var keep = Enumerable.Range(0, scaled.Length).Except(excluded).ToArray();
        cancellationToken.ThrowIfCancellationRequested();
        var head = kind.Fit(keep.Select(i => scaled[i]).ToArray(), keep.Select(i => isDog[i]).ToArray(), best.L2, options.Seed, scaler);
        return (head, new HeadSearch(trials, best, oof, excluded, folds, BestClip(isDog, oof)));
    }
}
