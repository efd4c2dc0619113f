using System.Globalization;
using CatsDogs.ML;
using CatsDogs.ML.Explain;

namespace CatsDogs.Web;

/// <summary>The JSON API: <c>POST /api/predict</c>, <c>POST /api/explain</c>, <c>GET /api/model</c>, <c>GET /health/ready</c>.</summary>
public static class Api
{
    public static void Map(WebApplication app)
    {
        app.MapPost("/api/predict", (HttpRequest request, Scorer scorer, CancellationToken token) => Score(request, scorer, explain: false, token))
            .RequireRateLimiting(WebApp.ScoringPolicy).DisableAntiforgery();
        app.MapPost("/api/explain", (HttpRequest request, Scorer scorer, CancellationToken token) => Score(request, scorer, explain: true, token))
            .RequireRateLimiting(WebApp.ScoringPolicy).DisableAntiforgery();
        app.MapGet("/api/model", (Scorer scorer) => Results.Json(ModelInfo(scorer)));
        app.MapGet("/health/ready", (Scorer scorer) => Results.Json(new { status = "ready", backbones = scorer.Classifier.Backbones.Count }));
    }

    // One JSON object per uploaded photo, in upload order. When no photo could be scored, the answer carries the
    // first photo's status (413 too large, 422 not a photo); otherwise 200 with the failures inline.
    private static async Task<IResult> Score(HttpRequest request, Scorer scorer, bool explain, CancellationToken token)
    {
        if (!request.HasFormContentType)
        {
            return Results.Json(new ApiError("Send the photos as multipart/form-data in fields named 'file'."), statusCode: 400);
        }

        var form = await request.ReadFormAsync(token);
        var files = form.Files.GetFiles("file");
        if (files.Count == 0)
        {
            return Results.Json(new ApiError("No photo: send one or more files in fields named 'file'."), statusCode: 400);
        }

        if (files.Count > scorer.Options.MaxPhotosPerRequest)
        {
            return Results.Json(new ApiError($"{files.Count} photos in one request; at most {scorer.Options.MaxPhotosPerRequest}."), statusCode: 413);
        }

        var results = new List<(object Body, int Status)>();
        foreach (var file in files)
        {
            token.ThrowIfCancellationRequested();
            results.Add(await ScoreOne(file, scorer, explain, token));
        }

        var status = results.All(r => r.Status != 200) ? results[0].Status : 200;
        return Results.Json(results.Select(r => r.Body), statusCode: status);
    }

    private static async Task<(object Body, int Status)> ScoreOne(IFormFile file, Scorer scorer, bool explain, CancellationToken token)
    {
        var name = Path.GetFileName(file.FileName);
        if (file.Length > scorer.Options.MaxPhotoBytes)
        {
            return (new { name, error = $"The photo is {file.Length:N0} bytes, more than the limit of {scorer.Options.MaxPhotoBytes:N0} bytes.", status = 413 }, 413);
        }

        using var memory = new MemoryStream((int)file.Length);
        await file.CopyToAsync(memory, token);
        var bytes = memory.GetBuffer().AsMemory(0, (int)memory.Length);
        try
        {
            if (!explain)
            {
                var p = scorer.Classifier.Predict(bytes.Span, name);
                return (new { name, dogProbability = p.DogProbability, label = Label(p.DogProbability) }, 200);
            }

            var e = scorer.Explainer.Explain(bytes.Span, name);
            return (new
            {
                name,
                dogProbability = e.DogProbability,
                label = Label(e.DogProbability),
                peak = new { x = e.Peak.X, y = e.Peak.Y },
                width = e.Width,
                height = e.Height,
                overlay = "data:image/png;base64," + Convert.ToBase64String(e.OverlayPng()),
                backbones = e.Heatmaps.Select(h => new { name = h.Backbone, contribution = h.Contribution }),
            }, 200);
        }
        catch (ImageDecodeException decode)
        {
            return (new { name, error = decode.Reason, status = 422 }, 422);
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
            limits = new { maxPhotoBytes = scorer.Options.MaxPhotoBytes, maxPhotosPerRequest = scorer.Options.MaxPhotosPerRequest, maxConcurrentRequests = scorer.Options.MaxConcurrentRequests },
            providers = c.ExecutionProviders.Select(p => new { backbone = p.Backbone, provider = p.Provider }),
        };
    }
}
