using CatsDogs.ML.Data;

namespace CatsDogs.Cli;

/// <summary>Where commands find their photos.</summary>
internal static class Photos
{
    /// <summary>A single photo, or every photo under a folder (leaving out <paramref name="excluding"/>).</summary>
    /// <exception cref="ArgumentException">Nothing exists at <paramref name="path"/>, or a folder holds no photo.</exception>
    public static ImageDataset At(string path, CancellationToken cancellationToken, params string[] excluding) =>
        Directory.Exists(path) ? Folder(path, cancellationToken, excluding)
        : File.Exists(path) || new FileInfo(path).LinkTarget is not null ? ImageDataset.FromFiles([path])
        : throw new ArgumentException($"'{Path.GetFullPath(path)}' does not exist: give a photo or a folder of photos.");

    /// <summary>Every photo under a folder; an empty listing is an error, since there would be nothing to do.</summary>
    /// <exception cref="ArgumentException">The folder is missing or holds no photo.</exception>
    public static ImageDataset Folder(string directory, CancellationToken cancellationToken, params string[] excluding)
    {
        if (!Directory.Exists(directory))
        {
            throw new ArgumentException(File.Exists(directory)
                ? $"'{Path.GetFullPath(directory)}' is a file; give a folder of photos."
                : $"Folder '{Path.GetFullPath(directory)}' does not exist.");
        }

        var photos = ImageDataset.FromFolder(directory, excluding, cancellationToken);
        return photos.Count > 0 ? photos : throw new ArgumentException(
            $"Folder '{Path.GetFullPath(directory)}' holds no photos (.jpg .jpeg .png .bmp .webp .gif; hidden files and folders this tool wrote into are left out).");
    }
}
