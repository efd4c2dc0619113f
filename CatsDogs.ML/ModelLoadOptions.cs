using CatsDogs.ML.Data;

namespace CatsDogs.ML;

/// <summary>How <see cref="CatsDogsClassifier.Load(string, ModelLoadOptions)"/> opens a saved model.</summary>
public sealed record ModelLoadOptions
{
    /// <summary>An extra folder searched first for backbone files (also <c>$CATSDOGS_MODELS_DIR</c>).</summary>
    public string? ModelsDirectory { get; init; }

    /// <summary>Feature cache for batch scoring; <c>null</c> for the default folder.</summary>
    public string? CacheDirectory { get; init; }

    /// <summary>Whether batch scoring reads and writes the feature cache (default true).</summary>
    public bool UseCache { get; init; } = true;

    /// <summary>Where the backbones run: <c>cpu</c> (default), <c>cuda</c> or <c>cuda:N</c>.</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>Worker threads for scoring (default: all cores).</summary>
    public int MaxDegreeOfParallelism { get; init; } = Environment.ProcessorCount;

    /// <summary>Largest photo file read, in bytes (default 64 MiB).</summary>
    public long MaxPhotoBytes { get; init; } = PhotoFile.DefaultMaxBytes;

    /// <summary>
    /// When set, only models whose manifest was signed with this key (<see cref="CatsDogsClassifier.Save(string, byte[])"/>)
    /// are loaded: a deployment refuses models it did not sign.
    /// </summary>
    public byte[]? SigningKey { get; init; }
}
