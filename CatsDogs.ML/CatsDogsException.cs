namespace CatsDogs.ML;

/// <summary>Base of the errors this library raises for bad inputs, model files and saved models.</summary>
public class CatsDogsException : Exception
{
    /// <summary>Creates the exception with a message that names the input, the problem and the fix.</summary>
    public CatsDogsException(string message, Exception? inner = null)
        : base(message, inner)
    {
    }
}

/// <summary>A backbone's ONNX file (or a file it needs) was not found.</summary>
public sealed class BackboneFileNotFoundException : CatsDogsException
{
    internal BackboneFileNotFoundException(string backbone, string fileName, IReadOnlyList<string> searched, string message)
        : base(message)
    {
        Backbone = backbone;
        FileName = fileName;
        SearchedPaths = searched;
    }

    /// <summary>The backbone's catalogue name.</summary>
    public string Backbone { get; }

    /// <summary>The missing file's name.</summary>
    public string FileName { get; }

    /// <summary>Every path that was tried.</summary>
    public IReadOnlyList<string> SearchedPaths { get; }
}

/// <summary>A backbone file exists but does not match its spec (not ONNX, wrong names or shapes, wrong hash).</summary>
public sealed class BackboneMismatchException : CatsDogsException
{
    internal BackboneMismatchException(string path, string message, Exception? inner = null)
        : base(message, inner) => FilePath = path;

    /// <summary>The offending file.</summary>
    public string FilePath { get; }
}

/// <summary>A photo could not be decoded; the message names the file and the reason.</summary>
public sealed class ImageDecodeException : CatsDogsException
{
    internal ImageDecodeException(string source, string reason, Exception? inner = null)
        : base($"Cannot use image '{source}': {reason}", inner)
    {
        Source = source;
        Reason = reason;
    }

    /// <summary>Path (or description) of the image.</summary>
    public new string Source { get; }

    /// <summary>Why it was rejected, in plain words.</summary>
    public string Reason { get; }
}

/// <summary>A saved model bundle is unreadable, tampered with, too new, or needs different backbone files.</summary>
public sealed class ModelBundleException : CatsDogsException
{
    internal ModelBundleException(string path, string message, Exception? inner = null)
        : base(message, inner) => FilePath = path;

    /// <summary>The bundle's path.</summary>
    public string FilePath { get; }
}

/// <summary>ONNX Runtime's native library is missing or cannot be loaded on this platform; the message says which package to reference.</summary>
public sealed class OnnxRuntimeUnavailableException : CatsDogsException
{
    /// <summary>Creates the exception.</summary>
    public OnnxRuntimeUnavailableException(string message, Exception? inner = null)
        : base(message, inner)
    {
    }
}
