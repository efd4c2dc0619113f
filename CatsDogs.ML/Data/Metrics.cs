namespace CatsDogs.ML.Data;

/// <summary>Binary metrics with the Kaggle conventions.</summary>
public static class Metrics
{
    /// <summary>Kaggle's clip for log loss: probabilities are kept in [1e-15, 1 − 1e-15].</summary>
    public const double LogLossEpsilon = 1e-15;

    /// <summary>The log loss of one prediction: −(y·ln p + (1−y)·ln(1−p)), p clipped to [ε, 1 − ε].</summary>
    public static double LogLoss(bool isDog, double dogProbability, double epsilon = LogLossEpsilon)
    {
        var p = Math.Clamp(dogProbability, epsilon, 1 - epsilon);
        return -(isDog ? Math.Log(p) : Math.Log(1 - p));
    }

    /// <summary>Mean log loss (Kaggle's formula) over <paramref name="isDog"/> and <paramref name="dogProbability"/>.</summary>
    public static double LogLoss(IReadOnlyList<bool> isDog, IReadOnlyList<double> dogProbability, double epsilon = LogLossEpsilon)
    {
        CheckSameLength(isDog, dogProbability);
        var sum = 0.0;
        for (var i = 0; i < isDog.Count; i++)
        {
            sum += LogLoss(isDog[i], dogProbability[i], epsilon);
        }

        return sum / isDog.Count;
    }

    /// <summary>Share of predictions on the right side of 0.5 (P(dog) ≥ 0.5 counts as dog).</summary>
    public static double Accuracy(IReadOnlyList<bool> isDog, IReadOnlyList<double> dogProbability)
    {
        CheckSameLength(isDog, dogProbability);
        return (double)isDog.Where((y, i) => y == (dogProbability[i] >= 0.5)).Count() / isDog.Count;
    }

    /// <summary>
    /// Area under the ROC curve: the probability that a random dog scores above a random cat, ties counting half
    /// (the Mann–Whitney statistic). NaN when one class is absent.
    /// </summary>
    public static double Auc(IReadOnlyList<bool> isDog, IReadOnlyList<double> dogProbability)
    {
        CheckSameLength(isDog, dogProbability);
        var order = Enumerable.Range(0, isDog.Count).OrderBy(i => dogProbability[i]).ToArray();
        double positives = isDog.Count(y => y), negatives = isDog.Count - positives;
        if (positives == 0 || negatives == 0)
        {
            return double.NaN;
        }

        // Sum of the dogs' (average, for ties) ranks.
        var rankSum = 0.0;
        for (var start = 0; start < order.Length;)
        {
            var end = start;
            while (end + 1 < order.Length && dogProbability[order[end + 1]] == dogProbability[order[start]])
            {
                end++;
            }

            var averageRank = ((start + end) / 2.0) + 1;
            for (var k = start; k <= end; k++)
            {
                if (isDog[order[k]])
                {
                    rankSum += averageRank;
                }
            }

            start = end + 1;
        }

        return (rankSum - (positives * (positives + 1) / 2)) / (positives * negatives);
    }

    private static void CheckSameLength(IReadOnlyList<bool> isDog, IReadOnlyList<double> dogProbability)
    {
        if (isDog.Count != dogProbability.Count)
        {
            throw new ArgumentException($"{isDog.Count} labels but {dogProbability.Count} probabilities.");
        }

        if (isDog.Count == 0)
        {
            throw new ArgumentException("No predictions to score.");
        }
    }

    /// <summary>
    /// Cosine similarity of two feature vectors of the same length (1 = same direction), summed in double: how closely an
    /// int8 backbone's pooled features follow the fp32 ones (docs/quantization.md).
    /// </summary>
    internal static double Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length)
        {
            throw new ArgumentException($"The vectors have {a.Length} and {b.Length} values; a cosine needs equal lengths.", nameof(b));
        }

        double dot = 0, na = 0, nb = 0;
        for (var i = 0; i < a.Length; i++)
        {
            dot += a[i] * (double)b[i];
            na += a[i] * (double)a[i];
            nb += b[i] * (double)b[i];
        }

        return dot / Math.Sqrt(na * nb);
    }
}
