using System.Globalization;
using CatsDogs.ML.Data;

namespace CatsDogs.ML.Evaluation;

/// <summary>Options of a Kaggle submission file.</summary>
public sealed record SubmissionOptions
{
    /// <summary>Lowest probability written (default 0.005, as the reference write-up did).</summary>
    public double ClipMin { get; init; } = 0.005;

    /// <summary>Highest probability written (default 0.995).</summary>
    public double ClipMax { get; init; } = 0.995;

    /// <summary>Write even when some test photos could not be scored (their ids are missing from the file).</summary>
    public bool AllowMissing { get; init; }

    /// <summary>Checks the clip range before any work is done.</summary>
    /// <exception cref="ArgumentException">The range is not 0 ≤ min &lt; max ≤ 1.</exception>
    public SubmissionOptions Validate() =>
        ClipMin >= 0 && ClipMin < ClipMax && ClipMax <= 1
            ? this
            : throw new ArgumentException(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"The clip range [{ClipMin}, {ClipMax}] must satisfy 0 ≤ min < max ≤ 1, e.g. 0.005,0.995."));
}

/// <summary>A submission was refused: some photos could not be scored, or ids are missing or repeated.</summary>
public sealed class IncompleteSubmissionException : CatsDogsException
{
    internal IncompleteSubmissionException(string message, IReadOnlyList<SkippedImage> missing)
        : base(message) => Missing = missing;

    /// <summary>The photos that would be missing from the file, with reasons.</summary>
    public IReadOnlyList<SkippedImage> Missing { get; }
}

/// <summary>Writes Kaggle "Dogs vs. Cats Redux" submissions: <c>id,label</c>, label = P(dog), rows in numeric id order.</summary>
public static class KaggleSubmission
{
    /// <summary>Writes the submission for <paramref name="predictions"/> to <paramref name="writer"/>.</summary>
    /// <exception cref="IncompleteSubmissionException">Photos were skipped (unless allowed), or an id is missing or repeated.</exception>
    public static void Write(TextWriter writer, BatchPrediction predictions, SubmissionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(predictions);
        options = (options ?? new SubmissionOptions()).Validate();

        if (predictions.Skipped.Count > 0 && !options.AllowMissing)
        {
            throw new IncompleteSubmissionException(
                $"{predictions.Skipped.Count} test photo(s) could not be scored, so the submission would lack their ids: "
                + string.Join("; ", predictions.Skipped.Take(20).Select(s => $"{s.Image.Path}: {s.Reason}"))
                + (predictions.Skipped.Count > 20 ? "; …" : "")
                + ". Fix or remove them, or allow missing rows explicitly (--allow-missing on the command line, SubmissionOptions.AllowMissing in code).",
                predictions.Skipped);
        }

        var noId = predictions.Scored.Where(p => p.Image.Id is null).ToArray();
        if (noId.Length > 0)
        {
            throw new IncompleteSubmissionException(
                $"{noId.Length} photo(s) have no numeric id in their name (expected N.jpg), e.g. '{noId[0].Image.Path}'.",
                noId.Select(p => new SkippedImage(p.Image, "no numeric id in the file name")).ToArray());
        }

        var repeated = predictions.Scored.GroupBy(p => p.Image.Id!.Value).FirstOrDefault(g => g.Count() > 1);
        if (repeated is not null)
        {
            throw new IncompleteSubmissionException(
                $"Id {repeated.Key} appears {repeated.Count()} times: {string.Join(", ", repeated.Select(p => p.Image.Path))}.",
                []);
        }

        if (predictions.Scored.FirstOrDefault(p => !float.IsFinite(p.DogProbability)) is { } notANumber)
        {
            throw new IncompleteSubmissionException(
                $"'{notANumber.Image.Path}' was scored {notANumber.DogProbability}, not a probability; the model is broken. Train it again.",
                [new SkippedImage(notANumber.Image, "its score is not a number")]);
        }

        var csv = new CsvWriter("id", "label");
        foreach (var p in predictions.Scored.OrderBy(p => p.Image.Id))
        {
            csv.Row(p.Image.Id!.Value, Math.Clamp((double)p.DogProbability, options.ClipMin, options.ClipMax));
        }

        writer.Write(csv.ToString());
    }

    /// <summary>Writes the submission to a file (UTF-8, no BOM), replacing it only when complete (<see cref="OutputFile"/>).</summary>
    public static void Write(string path, BatchPrediction predictions, SubmissionOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var text = new StringWriter(CultureInfo.InvariantCulture);
        Write(text, predictions, options);
        OutputFile.WriteText(path, text.ToString());
    }
}
