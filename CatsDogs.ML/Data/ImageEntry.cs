namespace CatsDogs.ML.Data;

/// <summary>One photo of a data set: where it is, its label when known and its numeric Kaggle id when the name has one.</summary>
/// <param name="Path">Full path of the image file.</param>
/// <param name="Label">The label taken from the file or folder name; <c>null</c> for unlabelled (test) photos.</param>
/// <param name="Id">The number in a Kaggle name (<c>dog.12.jpg</c> → 12, <c>37.jpg</c> → 37); <c>null</c> when the name has none.</param>
public sealed record ImageEntry(string Path, PetLabel? Label = null, long? Id = null)
{
    /// <summary>Builds an entry from a path alone, reading the label and id from the file name (Kaggle convention).</summary>
    public static ImageEntry FromPath(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var (label, id) = FileNaming.Parse(System.IO.Path.GetFileName(path));
        return new ImageEntry(System.IO.Path.GetFullPath(path), label, id);
    }
}
