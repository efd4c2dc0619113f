using CatsDogs.ML.Data;
using CatsDogs.ML.Evaluation;

namespace CatsDogs.ML.Training;

/// <summary>The validation log loss and accuracy of one L2 weight tried by the regularisation search.</summary>
/// <param name="L2">The L2 weight.</param>
/// <param name="ValidationLogLoss">Log loss on the inner validation split.</param>
/// <param name="ValidationAccuracy">Accuracy on the inner validation split.</param>
public sealed record RegularizationTrial(float L2, double ValidationLogLoss, double ValidationAccuracy);

/// <summary>Chooses the head's L2 weight on a stratified validation split, then refits on all the data.</summary>
internal static class HeadTrainer
{
    public static (LogisticHead Head, IReadOnlyList<RegularizationTrial> Trials, RegularizationTrial Best) Train(
        IReadOnlyList<float[]> features,
        IReadOnlyList<PetLabel> labels,
        IReadOnlyList<float> l2Grid,
        double validationFraction,
        int seed,
        int maxDegreeOfParallelism,
        CancellationToken cancellationToken)
    {
        if (l2Grid.Count == 0)
        {
            throw new ArgumentException("The L2 grid is empty.", nameof(l2Grid));
        }

        var isDog = labels.Select(l => l == PetLabel.Dog).ToArray();
        var held = DataSplit.StratifiedHoldout(labels, validationFraction, seed);
        var fitIndex = Enumerable.Range(0, features.Count).Where(i => !held.Contains(i)).ToArray();
        var valIndex = Enumerable.Range(0, features.Count).Where(held.Contains).ToArray();
        var fitX = fitIndex.Select(i => features[i]).ToArray();
        var fitY = fitIndex.Select(i => isDog[i]).ToArray();
        var valX = valIndex.Select(i => features[i]).ToArray();
        var valY = valIndex.Select(i => isDog[i]).ToArray();

        var trials = new RegularizationTrial[l2Grid.Count];
        Parallel.For(0, l2Grid.Count, new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism, CancellationToken = cancellationToken }, k =>
        {
            var probabilities = LogisticHead.Fit(fitX, fitY, l2Grid[k], seed).Predict(valX).Select(p => (double)p).ToArray();
            trials[k] = new RegularizationTrial(l2Grid[k], Metrics.LogLoss(valY, probabilities), Metrics.Accuracy(valY, probabilities));
        });

        // Ties go to the stronger regularisation, which generalises more safely.
        var best = trials.OrderBy(t => t.ValidationLogLoss).ThenByDescending(t => t.L2).First();
        cancellationToken.ThrowIfCancellationRequested();
        return (LogisticHead.Fit(features, isDog, best.L2, seed), trials, best);
    }
}
