using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace CatsDogs.ML.Tests;

/// <summary>Edits saved model bundles the way a careless user or an attacker would.</summary>
internal static class BundleFile
{
    /// <summary>Rewrites <c>manifest.json</c> with <paramref name="edit"/>; with <paramref name="rehash"/>, its digest entry too.</summary>
    public static void EditManifest(string path, Action<JsonNode> edit, bool rehash)
    {
        var manifest = JsonNode.Parse(ReadEntry(path, "manifest.json"))!;
        edit(manifest);
        var bytes = Encoding.UTF8.GetBytes(manifest.ToJsonString());
        ReplaceEntry(path, "manifest.json", bytes);
        if (rehash)
        {
            ReplaceEntry(path, "manifest.sha256", Encoding.ASCII.GetBytes(Convert.ToHexStringLower(SHA256.HashData(bytes))));
        }
    }

    /// <summary>The bytes of one entry.</summary>
    public static byte[] ReadEntry(string path, string name)
    {
        using var zip = ZipFile.OpenRead(path);
        using var stream = zip.GetEntry(name)!.Open();
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    /// <summary>Replaces (or adds) one entry.</summary>
    public static void ReplaceEntry(string path, string name, byte[] bytes, CompressionLevel level = CompressionLevel.Optimal)
    {
        using var zip = ZipFile.Open(path, ZipArchiveMode.Update);
        zip.GetEntry(name)?.Delete();
        using var stream = zip.CreateEntry(name, level).Open();
        stream.Write(bytes);
    }
}
