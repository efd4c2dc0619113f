namespace CatsDogs.Bench;

/// <summary>A fresh folder under the system's temporary folder for one benchmark's files, deleted with them when disposed.</summary>
internal sealed class TempFolder : IDisposable
{
    public string Path { get; } = Directory.CreateDirectory(System.IO.Path.Combine(System.IO.Path.GetTempPath(), "catsdogs-bench-" + Guid.NewGuid().ToString("N"))).FullName;

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
