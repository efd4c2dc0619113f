using Xunit;

namespace CatsDogs.ML.Tests;

/// <summary>Where the tests find the shared photos and models, and a fresh feature cache per test run's build.</summary>
internal static class TestEnvironment
{
    /// <summary>Overrides the training photos folder (default: ../shared/data/dogs-vs-cats/train beside the repository).</summary>
    public const string DataVariable = "CATSDOGS_DATA_DIR";

    /// <summary>Overrides the shared models folder (default: ../shared/models beside the repository).</summary>
    public const string SharedModelsVariable = "CATSDOGS_SHARED_MODELS_DIR";

    public static string RepositoryRoot { get; } = FindRoot();

    public static string DataDirectory =>
        Environment.GetEnvironmentVariable(DataVariable) is { Length: > 0 } dir
            ? Path.GetFullPath(dir)
            : Path.GetFullPath(Path.Combine(RepositoryRoot, "..", "shared", "data", "dogs-vs-cats", "train"));

    public static string SharedModelsDirectory =>
        Environment.GetEnvironmentVariable(SharedModelsVariable) is { Length: > 0 } dir
            ? Path.GetFullPath(dir)
            : Path.GetFullPath(Path.Combine(RepositoryRoot, "..", "shared", "models"));

    /// <summary>A feature cache that lives with this build's output, so a clean clone starts cold.</summary>
    public static string CacheDirectory { get; } = Path.Combine(AppContext.BaseDirectory, "feature-cache");

    public static bool InCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Skips the calling test when the real photos are absent, saying which folder and variable; in CI a missing
    /// folder fails instead.
    /// </summary>
    public static string RequireData()
    {
        var dir = DataDirectory;
        if (Directory.Exists(dir) && Directory.EnumerateFiles(dir, "*.jpg").Any())
        {
            return dir;
        }

        var message = $"The Dogs vs. Cats photos are not at '{dir}'. Set {DataVariable} to the folder of cat.N.jpg / dog.N.jpg files.";
        if (InCi)
        {
            Assert.Fail(message + " (CI=true: a missing data folder is a failure.)");
        }

        Skip.If(true, message);
        return dir;
    }

    /// <summary>A new empty folder under the system temp folder, deleted when disposed.</summary>
    public static TempDirectory NewTempDirectory() => new();

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "CatsDogs.ML.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No CatsDogs.ML.sln above '{AppContext.BaseDirectory}'.");
    }
}

internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "catsdogs-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
