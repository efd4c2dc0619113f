using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.ML.OnnxRuntime;
using Xunit;

namespace CatsDogs.ML.Tests.Web;

/// <summary>What the page's live mode gets from the server, on the tiny model: the exported model and onnxruntime-web's files.</summary>
[Collection("tiny model")]
[Trait("Category", Category.Unit)]
public sealed class BrowserModelTests(TinyModel tiny) : IDisposable
{
    private readonly WebApplicationFactory<Program> _factory = TestWebApp.Serving(tiny.ModelPath, tiny.ModelsDirectory);

    [Fact]
    public async Task ModelOnnx_IsTheServedModelWithCam_UnderAContentHashETag_Immutable_And304WhenTheClientHasIt()
    {
        using var client = _factory.CreateClient();
        using var first = await client.GetAsync("/model.onnx");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var bytes = await first.Content.ReadAsByteArrayAsync();
        Assert.Equal($"\"{Convert.ToHexStringLower(SHA256.HashData(bytes))[..32]}\"", first.Headers.ETag!.Tag);
        Assert.Equal("public, max-age=31536000, immutable", first.Headers.CacheControl!.ToString());
        Assert.Equal("Resized", first.Headers.GetValues("X-Input-Contract").Single()); // the tiny model's views are native and its mirror

        // The file loads in ONNX Runtime and has the cam output the page draws.
        using var session = new InferenceSession(bytes);
        Assert.Contains("cam", session.OutputMetadata.Keys);

        using var again = new HttpRequestMessage(HttpMethod.Get, "/model.onnx");
        again.Headers.IfNoneMatch.Add(first.Headers.ETag);
        using var cached = await client.SendAsync(again);
        Assert.Equal(HttpStatusCode.NotModified, cached.StatusCode);
        Assert.Empty(await cached.Content.ReadAsByteArrayAsync());

        using var other = new HttpRequestMessage(HttpMethod.Get, "/model.onnx");
        other.Headers.IfNoneMatch.Add(new EntityTagHeaderValue("\"0123\""));
        using var changed = await client.SendAsync(other);
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        Assert.Equal(bytes, await changed.Content.ReadAsByteArrayAsync());
    }

    [Theory]
    [InlineData("/ort/ort.wasm.min.mjs", "text/javascript")]
    [InlineData("/ort/ort-wasm-simd-threaded.mjs", "text/javascript")]
    [InlineData("/ort/ort-wasm-simd-threaded.wasm", "application/wasm")]
    [InlineData("/live-worker.js", "text/javascript")]
    public async Task OnnxRuntimeWeb_IsServedByTheAppItself_CrossOriginIsolated_UnderAStrictCsp(string path, string type)
    {
        using var client = _factory.CreateClient();
        using var response = await client.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(type, response.Content.Headers.ContentType?.MediaType);
        Assert.True((await response.Content.ReadAsByteArrayAsync()).Length > 0);
        Assert.Equal("same-origin", response.Headers.GetValues("Cross-Origin-Opener-Policy").Single());
        Assert.Equal("require-corp", response.Headers.GetValues("Cross-Origin-Embedder-Policy").Single());
        var csp = response.Headers.GetValues("Content-Security-Policy").Single();
        Assert.Contains("script-src 'self' 'wasm-unsafe-eval';", csp, StringComparison.Ordinal);
        Assert.Contains("worker-src 'self';", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe-inline", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("http", csp, StringComparison.Ordinal);
    }

    public void Dispose() => _factory.Dispose();
}
