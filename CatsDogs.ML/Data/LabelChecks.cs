namespace CatsDogs.ML.Data;

/// <summary>The checks every labelled workflow (training, fusion report, audit) makes on its photos.</summary>
public static class LabelChecks
{
    /// <summary>Throws when a photo has no label; <paramref name="purpose"/> names the workflow ("training").</summary>
    /// <exception cref="ArgumentException">A photo has no label.</exception>
    public static void RequireLabels(IEnumerable<ImageEntry> photos, string purpose)
    {
        if (photos.FirstOrDefault(e => e.Label is null) is { } unlabeled)
        {
            throw new ArgumentException($"'{unlabeled.Path}' has no label: {purpose} needs cat.N.jpg / dog.N.jpg names or cat/ and dog/ folders.");
        }
    }

    /// <summary>The labels of the usable photos, after checking that each class has at least two.</summary>
    /// <param name="usable">The labelled photos that could be used.</param>
    /// <param name="listed">How many photos were given (usable + skipped).</param>
    /// <param name="purpose">The workflow, capitalised ("Training").</param>
    /// <exception cref="ArgumentException">A class has fewer than two usable photos.</exception>
    public static PetLabel[] UsableLabels(IReadOnlyList<ImageEntry> usable, int listed, string purpose)
    {
        var labels = usable.Select(e => e.Label!.Value).ToArray();
        foreach (var label in new[] { PetLabel.Cat, PetLabel.Dog })
        {
            var count = labels.Count(l => l == label);
            if (count < 2)
            {
                throw new ArgumentException(
                    $"{purpose} needs at least two usable photos of each class; found {count} {label.ToString().ToLowerInvariant()} photo(s) "
                    + $"among {listed} ({listed - usable.Count} skipped).");
            }
        }

        return labels;
    }
}
