using System.Globalization;
using CatsDogs.ML;
using CatsDogs.ML.Explain;
using SkiaSharp;

namespace CatsDogs.Web;

/// <summary>The JSON API: <c>POST /api/predict</c>, <c>POST /api/explain</c>, <c>GET /api/model</c>, <c>GET /model.onnx</c> (<c>GET /health/ready</c> is a health check, see <see cref="WebApp"/>).</summary>
public static class Api
{
    /// <summary>Longest side of the overlay <c>/api/explain</c> returns; a larger photo's overlay is scaled down to it.</summary>
    public const int MaxOverlaySide = 1024;

    public static void Map(WebApplication app)
    {
        app.MapPost("/api/predict", (HttpRequest request, Scorer scorer, ScoringSlots slots, CancellationToken token) => Score(request, scorer, slots, explain: false, token))
            .DisableAntiforgery();
        app.MapPost("/api/explain", (HttpRequest request, Scorer scorer, ScoringSlots slots, CancellationToken token) => Score(request, scorer, slots, explain: true, token))
            .DisableAntiforgery();
        app.MapGet("/api/model", (Scorer scorer) => TypedResults.Json(ModelInfo(scorer)));
        app.MapGet("/model.onnx", (HttpContext context, BrowserModel model) => model.ServeAsync(context));
    }

    // An object whose "results" hold one JSON object per uploaded photo, in upload order. When no photo could be scored, the answer carries the
    // first photo's status (413 too large, 422 not a photo); otherwise 200 with the failures inline. A request that
    // cannot be read is a problem details object. The scoring slot is taken only once the whole body is in memory,
    // so a slow upload holds no slot.
    private static async Task<IResult> Score(HttpRequest request, Scorer scorer, ScoringSlots slots, bool explain, CancellationToken token)
    {
        if (explain && scorer.NoHeatmaps is { } noHeatmaps)
        {
            return TypedResults.Problem(noHeatmaps, statusCode: StatusCodes.Status409Conflict);
        }

        var (photos, refusal) = await Uploads.ReadAsync(request, scorer.Options, token);
        if (refusal is not null)
        {
            return TypedResults.Problem(refusal.Detail, statusCode: refusal.Status);
        }

        if (photos!.Count == 0)
        {
            return TypedResults.Problem("No photo: send one or more files in fields named 'file'.", statusCode: 400);
        }

        using var slot = await slots.TakeAsync(token);
        if (!slot.IsAcquired)
        {
            request.HttpContext.Response.Headers.RetryAfter = "1";
            return TypedResults.Problem(
                $"More than {scorer.Options.MaxConcurrentRequests} requests at once and {scorer.Options.MaxQueuedRequests} waiting, or no slot within {scorer.Options.QueueTimeout.TotalSeconds:0} s; retry in a second.",
                statusCode: 429);
        }

        var results = new List<(object Body, int Status)>();
        foreach (var photo in photos)
        {
            token.ThrowIfCancellationRequested();
            results.Add(ScoreOne(photo, scorer, explain));
        }

        var status = results.All(r => r.Status != 200) ? results[0].Status : 200;
        return TypedResults.Json(new { results = results.Select(r => r.Body) }, statusCode: status);
    }

    private static (object Body, int Status) ScoreOne(Upload photo, Scorer scorer, bool explain)
    {
        var name = photo.Name;
        if (photo.Bytes is null)
        {
            return (new { name, error = $"The photo is {photo.Length:N0} bytes, more than the limit of {scorer.Options.MaxPhotoBytes:N0} bytes.", status = 413 }, 413);
        }

        try
        {
            if (!explain)
            {
                var p = scorer.Classifier.Predict(photo.Bytes, name);
                return (new { name, dogProbability = p.DogProbability, label = Label(p.DogProbability) }, 200);
            }

            var e = scorer.Explainer!.Explain(photo.Bytes, name);
            var (png, width, height) = Overlay(e);
            return (new
            {
                name,
                dogProbability = e.DogProbability,
                label = Label(e.DogProbability),
                peak = new { x = Math.Min(width - 1, e.Peak.X * width / e.Width), y = Math.Min(height - 1, e.Peak.Y * height / e.Height) },
                width,
                height,
                overlay = "data:image/png;base64," + Convert.ToBase64String(png),
                backbones = e.Heatmaps.Select(h => new { name = h.Backbone, contribution = h.Contribution }),
            }, 200);
        }
        catch (ImageDecodeException decode)
        {
            return (new { name, error = decode.Reason, status = 422 }, 422);
        }
    }

    // The overlay as PNG, scaled down (mipmapped bilinear) so that its longer side is at most MaxOverlaySide. Skia
    // reads the explanation's pixels in place and writes into a managed array: the large overlay is never copied to
    // the native heap, where freed blocks of this size stay with the process.
    private static unsafe (byte[] Png, int Width, int Height) Overlay(Explanation e)
    {
        if (Math.Max(e.Width, e.Height) <= MaxOverlaySide)
        {
            return (e.OverlayPng(), e.Width, e.Height);
        }

        var scale = (double)MaxOverlaySide / Math.Max(e.Width, e.Height);
        int width = Math.Max(1, (int)Math.Round(e.Width * scale)), height = Math.Max(1, (int)Math.Round(e.Height * scale));
        var sourceInfo = new SKImageInfo(e.Width, e.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var targetInfo = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var small = new byte[targetInfo.BytesSize];
        fixed (byte* source = e.OverlayRgba)
        fixed (byte* target = small)
        {
            using var sourcePixels = new SKPixmap(sourceInfo, (IntPtr)source, sourceInfo.RowBytes);
            using var targetPixels = new SKPixmap(targetInfo, (IntPtr)target, targetInfo.RowBytes);
            if (!sourcePixels.ScalePixels(targetPixels, new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear)))
            {
                throw new InvalidOperationException($"SkiaSharp could not scale a {e.Width}×{e.Height} overlay to {width}×{height}.");
            }

            using var data = targetPixels.Encode(SKEncodedImageFormat.Png, 100)
                ?? throw new InvalidOperationException($"SkiaSharp could not encode a {width}×{height} overlay as PNG.");
            return (data.ToArray(), width, height);
        }
    }

    private static string Label(float p) => p >= 0.5f ? "dog" : "cat";

    private static object ModelInfo(Scorer scorer)
    {
        var c = scorer.Classifier;
        var t = c.Training;
        return new
        {
            backbones = c.Backbones.Select(b => new { name = b.Name, input = $"{b.Preprocessing.Width}×{b.Preprocessing.Height}", features = b.FeatureDimension, description = b.Description }),
            views = c.Views.Select(v => v.ToString()),
            trainedUtc = c.CreatedUtc.ToString("O", CultureInfo.InvariantCulture),
            training = t is null ? null : new
            {
                photos = t.TrainedOn,
                cats = t.Cats,
                dogs = t.Dogs,
                leftOut = t.Excluded.Count,
                folds = t.Folds,
                l2 = t.Best.L2,
                cvLogLoss = t.Best.ValidationLogLoss,
                cvAccuracy = t.Best.ValidationAccuracy,
            },
            heatmaps = scorer.NoHeatmaps is null,
            limits = new { maxPhotoBytes = scorer.Options.MaxPhotoBytes, maxPhotosPerRequest = scorer.Options.MaxPhotosPerRequest, maxConcurrentRequests = scorer.Options.MaxConcurrentRequests, maxQueuedRequests = scorer.Options.MaxQueuedRequests },
            providers = c.ExecutionProviders.Select(p => new { backbone = p.Backbone, provider = p.Provider }),
        };
    }
}
