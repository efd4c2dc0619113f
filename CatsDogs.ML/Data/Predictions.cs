namespace CatsDogs.ML.Data;

/// <summary>A scored photo of a batch.</summary>
/// <param name="Image">The photo, with its label and id when known.</param>
/// <param name="DogProbability">P(dog), in [0, 1].</param>
public sealed record ImagePrediction(ImageEntry Image, float DogProbability)
{
    /// <summary>The more likely class (dog when P(dog) ≥ 0.5).</summary>
    public PetLabel PredictedLabel => DogProbability >= 0.5f ? PetLabel.Dog : PetLabel.Cat;
}

/// <summary>A photo that could not be scored, and why.</summary>
/// <param name="Image">The photo.</param>
/// <param name="Reason">The problem in plain words (truncated, not an image, unreadable, …).</param>
public sealed record SkippedImage(ImageEntry Image, string Reason);

/// <summary>
/// The outcome of a batch: every input is either in <see cref="Scored"/> or in <see cref="Skipped"/>, in input order.
/// </summary>
/// <param name="Scored">Scored photos.</param>
/// <param name="Skipped">Photos that could not be scored, with reasons.</param>
public sealed record BatchPrediction(IReadOnlyList<ImagePrediction> Scored, IReadOnlyList<SkippedImage> Skipped)
{
    /// <summary>Number of inputs: scored plus skipped.</summary>
    public int Count => Scored.Count + Skipped.Count;

    /// <summary>
    /// The scored photos as CSV, <c>path,dog_probability,label</c> (the format of <c>catsdogs predict</c>), one row per
    /// photo in input order.
    /// </summary>
    public string ToCsv()
    {
        var csv = new CsvWriter("path", "dog_probability", "label");
        foreach (var p in Scored)
        {
            csv.Row(p.Image.Path, p.DogProbability, p.PredictedLabel.ToString().ToLowerInvariant());
        }

        return csv.ToString();
    }
}

/// <summary>Progress of long work (feature extraction, training, scoring).</summary>
/// <param name="Stage">What is being done, e.g. "features" or "training head".</param>
/// <param name="Completed">Items done so far.</param>
/// <param name="Total">Items in this stage.</param>
public sealed record CatsDogsProgress(string Stage, int Completed, int Total);
