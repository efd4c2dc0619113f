using System.Security.Cryptography;
using CatsDogs.ML.Export;
using Microsoft.Net.Http.Headers;

namespace CatsDogs.Web;

/// <summary>
/// <c>GET /model.onnx</c>: the served model exported as one ONNX file (<see cref="ML.CatsDogsClassifier.ExportOnnx"/>,
/// the rgb224 contract where the model's views allow it, else the photo contract, with <c>cam</c>) for the page's live
/// mode. Exported once, on the first request, and kept in memory; served with a content-hash ETag and immutable
/// caching, and 304 to a client that already holds it.
/// </summary>
public sealed class BrowserModel(Scorer scorer, ILogger<BrowserModel> log)
{
    /// <summary>The <c>Cache-Control</c> of <c>/model.onnx</c>: its URL never changes, but its ETag does when the model does.</summary>
    public const string CacheControl = "public, max-age=31536000, immutable";

    private readonly Lock _gate = new();
    private Task<Exported>? _exported;

    /// <summary>The file's bytes, its ETag (a quoted SHA-256 prefix) and its input contract.</summary>
    public sealed record Exported(byte[] Bytes, string ETag, OnnxInputContract Input, string Contract);

    /// <summary>The exported model, made on the first call; a failed export is not kept, so a later call tries again.</summary>
    public Task<Exported> GetAsync()
    {
        lock (_gate)
        {
            if (_exported is null || _exported.IsFaulted || _exported.IsCanceled)
            {
                _exported = Task.Run(() => Export(scorer, log));
            }

            return _exported;
        }
    }

    /// <summary>Serves the file, or 304 when <c>If-None-Match</c> names its ETag.</summary>
    public async Task<IResult> ServeAsync(HttpContext context)
    {
        if (scorer.NoHeatmaps is { } noHeatmaps)
        {
            return TypedResults.Problem(noHeatmaps, statusCode: StatusCodes.Status409Conflict);
        }

        Exported model;
        try
        {
            model = await GetAsync();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException or ArgumentException)
        {
            log.LogError(e, "Exporting the model for the browser failed");
            return TypedResults.Problem($"The model could not be exported for the browser ({e.Message}); the server's /api/predict still scores photos.", statusCode: StatusCodes.Status503ServiceUnavailable);
        }

        var headers = context.Response.Headers;
        headers.ETag = model.ETag;
        headers.CacheControl = CacheControl;
        headers["X-Input-Contract"] = model.Input.ToString();
        var asked = context.Request.GetTypedHeaders().IfNoneMatch;
        if (asked.Any(tag => tag.Equals(EntityTagHeaderValue.Any) || tag.Compare(new EntityTagHeaderValue(model.ETag), useStrongComparison: false)))
        {
            return TypedResults.StatusCode(StatusCodes.Status304NotModified);
        }

        return TypedResults.Bytes(model.Bytes, "application/octet-stream");
    }

    private static Exported Export(Scorer scorer, ILogger log)
    {
        var dir = Directory.CreateTempSubdirectory("catsdogs-web-export-");
        try
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var path = Path.Combine(dir.FullName, "model.onnx");
            OnnxExportResult result;
            try
            {
                result = scorer.Classifier.ExportOnnx(path, new OnnxExportOptions { WithCam = true });
            }
            catch (ArgumentException e) when (e.Message.Contains("feature map", StringComparison.Ordinal))
            {
                // A backbone without a feature map: the page shows the label and P(dog) without a heatmap.
                log.LogWarning("The model for the browser has no cam: {Reason}", e.Message);
                result = scorer.Classifier.ExportOnnx(path, new OnnxExportOptions());
            }

            var bytes = File.ReadAllBytes(result.Path);
            var etag = $"\"{Convert.ToHexStringLower(SHA256.HashData(bytes))[..32]}\"";
            log.LogInformation("Exported the model for the browser: {Bytes:N0} bytes, {Contract} contract, in {Seconds:F1} s", bytes.Length, result.Input, clock.Elapsed.TotalSeconds);
            return new Exported(bytes, etag, result.Input, result.Contract);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
