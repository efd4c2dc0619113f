namespace CatsDogs.Bench;

/// <summary>Programs of this repository that the benchmarks start as processes, as their own projects built them.</summary>
internal static class BuiltProgram
{
    /// <summary>The newest <paramref name="dll"/> under <paramref name="projectFolder"/>/bin (a folder relative to the repository root).</summary>
    /// <exception cref="FileNotFoundException">The project is not built.</exception>
    public static string Find(string projectFolder, string dll)
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "CatsDogs.ML.sln")))
        {
            root = root.Parent;
        }

        var bin = Path.Combine(root?.FullName ?? ".", projectFolder, "bin");
        return (Directory.Exists(bin) ? Directory.GetFiles(bin, dll, SearchOption.AllDirectories) : [])
            .OrderByDescending(File.GetLastWriteTimeUtc).FirstOrDefault()
            ?? throw new FileNotFoundException($"{projectFolder} is not built; run dotnet build CatsDogs.ML.sln -c Release.");
    }
}
