namespace CatsDogs.ML.Data;

/// <summary>Seeded, stratified hold-out selection shared by dataset splits and the head's regularisation search.</summary>
internal static class DataSplit
{
    /// <summary>
    /// Indices of the held-out items: per class, round(n × fraction) items (at least one when the class has two or
    /// more) picked by a shuffle seeded with <paramref name="seed"/>.
    /// </summary>
    public static HashSet<int> StratifiedHoldout(IReadOnlyList<PetLabel> labels, double fraction, int seed)
    {
        if (!(fraction > 0 && fraction < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(fraction), fraction, "The validation fraction must lie strictly between 0 and 1.");
        }

        var random = new Random(seed);
        var held = new HashSet<int>();
        foreach (var label in new[] { PetLabel.Cat, PetLabel.Dog })
        {
            var members = Enumerable.Range(0, labels.Count).Where(i => labels[i] == label).ToArray();
            random.Shuffle(members);
            var take = (int)Math.Round(members.Length * fraction, MidpointRounding.AwayFromZero);
            if (members.Length >= 2)
            {
                take = Math.Clamp(take, 1, members.Length - 1);
            }

            held.UnionWith(members.Take(take));
        }

        return held;
    }

    /// <summary>
    /// Fold number (0..<paramref name="folds"/>-1) of every item: per class, a seeded shuffle dealt round-robin, so
    /// every fold holds about the same share of cats and dogs.
    /// </summary>
    public static int[] StratifiedFolds(IReadOnlyList<PetLabel> labels, int folds, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(folds, 2);
        var random = new Random(seed);
        var fold = new int[labels.Count];
        foreach (var label in new[] { PetLabel.Cat, PetLabel.Dog })
        {
            var members = Enumerable.Range(0, labels.Count).Where(i => labels[i] == label).ToArray();
            random.Shuffle(members);
            for (var k = 0; k < members.Length; k++)
            {
                fold[members[k]] = k % folds;
            }
        }

        return fold;
    }
}
