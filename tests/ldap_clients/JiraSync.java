/*
 * JiraSync: replays, with plain JNDI (com.sun.jndi.ldap, the provider under Spring LDAP), what
 * Atlassian's LDAP connector (Embedded Crowd in Jira, Confluence, Bitbucket and JSM Data
 * Center) sends to a user directory of type "OpenLDAP" and of type "Microsoft Active
 * Directory". Driven by tests/e2e/test_ldap_clients.py; compiled there with javac into a
 * temporary folder.
 *
 * WHAT CROWD DOES (sources: Atlassian's documentation and knowledge base, and the connector's
 * classes as published decompiled in public repositories, found through a code search:
 * com.atlassian.crowd.directory.SpringLDAPConnector, RFC4519Directory, MicrosoftActiveDirectory,
 * directory.synchronisation.cache.UsnChangedCacheRefresher and ActiveDirectoryTokenHolder,
 * search.ldap.ActiveDirectoryQueryTranslaterImpl, search.ldap.filter.EqualsExternalIdFilter,
 * directory.ldap.util.GuidHelper, directory.ldap.control.ldap.DeletedControl; plus an older,
 * Crowd 2.x MicrosoftActiveDirectory with the same tombstone search):
 *
 * Connection. One JNDI context per pool, provider URL without a base DN (so that lookup("")
 * is the root DSE), simple bind as the configured DN; "Use SSL" means an ldaps:// URL. AD adds
 * java.naming.ldap.attributes.binary = "objectGUID objectSid invocationId".
 *
 * Searches. Subtree from the base DN plus the "additional user/group DN", filter = the
 * directory's object filter, attributes = only what the mappers need (JRASERVER-26434):
 *   users:  name, mail, first name, last name, display name attributes and the "User Unique ID
 *           Attribute" (external id; entryUUID for OpenLDAP, objectGUID for AD); with "use
 *           user membership attribute" also memberOf. AD adds objectGUID, uSNChanged,
 *           objectSid, primaryGroupID and userAccountControl (512 = active, bit 2 = disabled).
 *   groups: name (cn), description, the member attribute; AD adds objectGUID, uSNChanged,
 *           objectSid.
 * Defaults: OpenLDAP (objectclass=inetorgperson), (objectclass=groupOfUniqueNames),
 * uniqueMember; AD (&(objectCategory=Person)(sAMAccountName=*)), (objectCategory=Group),
 * member, sAMAccountName (confluence.atlassian.com USERMAN010/pages/238617091; KB
 * "How to remove LDAP groups from Jira" shows (objectCategory=Group)). "Use paged results":
 * RFC 2696, page size 1000 by default (USERMAN030/pages/321851574), sent again with the
 * returned cookie until it is empty (SpringLDAPConnector.pageSearchResults). Member DNs are
 * matched to user DNs ("naive DN matching" compares strings). Group members in AD may arrive
 * as "member;range=0-1499" and are then read by ranged lookups (RFC4519MemberDnRangedMapper);
 * a server that returns the whole "member" attribute needs none of that.
 *
 * Active Directory incremental synchronisation (UsnChangedCacheRefresher; on by default for
 * the AD type, unavailable for every other type, which gets a full sync every interval):
 *  - After a full sync Crowd stores the token {"invocationId", "lastUsnChanged"}: it reads
 *    dsServiceName from the root DSE, looks up that DN and reads invocationId (16 bytes,
 *    binary), then highestCommittedUSN from the root DSE (fetchInvocationId,
 *    fetchHighestCommittedUSN). A root DSE without dsServiceName makes new LdapName(null) throw
 *    a NullPointerException, so the sync fails; without highestCommittedUSN: "Error looking up
 *    attributes for highestCommittedUSN" (chris-kent/Easy-Forums#21).
 *  - Next sync: no token, or a token without an invocationId, or an invocationId that differs
 *    from the server's now (a restored or different DC) -> full sync. Otherwise it reads
 *    highestCommittedUSN first (the next token), then, by default ("GUID" mode):
 *      users:  every user's objectGUID with the user filter (findAllUserGuids); GUIDs gone ->
 *              deleted; (&(<user filter>)(uSNChanged>=N+1)) with the user attributes and
 *              memberOf -> updated, or added when its GUID is new; a new GUID missing from that
 *              answer is fetched by (&(<user filter>)(objectGUID=\xx\xx...)) (the raw bytes,
 *              escaped; EqualsExternalIdFilter); the groups in new users' memberOf are re-read
 *              with (&(<group filter>)(|(distinguishedName=DN)...)) (searchGroupsByDns).
 *      groups: every group's cn and objectGUID (findAllGroupNamesAndGuids); GUIDs gone ->
 *              deleted; (&(<group filter>)(uSNChanged>=N+1)) -> updated or added (a new GUID
 *              missing there forces a full sync); members of those groups re-read.
 *    With -Dcrowd.use.legacy.ad.incremental.sync=true (and in Crowd 2.x), users are instead
 *    the uSNChanged search plus tombstones: (&(isDeleted=TRUE)(objectClass=<user object
 *    class>)(uSNChanged>=N+1)), attributes objectGUID and uSNChanged, subtree, with the
 *    show-deleted control 1.2.840.113556.1.4.417 (critical, empty value) and paging; base
 *    "CN=Deleted Objects," + rootDomainNamingContext from the root DSE, or, when that is
 *    absent (the DN then does not parse), the directory's base DN.
 *  - Any failure of the incremental path (UsnChangedCacheRefresherIncSyncException) falls
 *    back to a full synchronisation.
 */

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Hashtable;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import javax.naming.Context;
import javax.naming.NamingEnumeration;
import javax.naming.NamingException;
import javax.naming.directory.Attribute;
import javax.naming.directory.Attributes;
import javax.naming.directory.SearchControls;
import javax.naming.directory.SearchResult;
import javax.naming.ldap.Control;
import javax.naming.ldap.InitialLdapContext;
import javax.naming.ldap.LdapContext;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.PagedResultsControl;
import javax.naming.ldap.PagedResultsResponseControl;

public class JiraSync {
  // ------------------------------------------------------------------ configuration
  final String url, bindDn, password, baseDn, userDn, groupDn;
  final boolean ad;
  final int pageSize;
  final String userFilter, groupFilter, userObjectClass, nameAttr, memberAttr, externalId;

  JiraSync(Map<String, String> o) {
    url = o.get("url");
    bindDn = o.get("bind-dn");
    password = System.getenv("JIRASYNC_PASSWORD");
    baseDn = o.get("base");
    ad = "ad".equals(o.getOrDefault("type", "openldap"));
    pageSize = Integer.parseInt(o.getOrDefault("page-size", "1000"));
    userDn = o.getOrDefault("user-dn", "ou=people") + "," + baseDn;
    groupDn = o.getOrDefault("group-dn", "ou=groups") + "," + baseDn;
    if (ad) {
      userObjectClass = "user";
      userFilter = "(&(objectCategory=Person)(sAMAccountName=*))";
      groupFilter = "(objectCategory=Group)";
      nameAttr = "sAMAccountName";
      memberAttr = "member";
      externalId = "objectGUID";
    } else {
      userObjectClass = "inetorgperson";
      userFilter = "(objectclass=inetorgperson)";
      groupFilter = "(objectclass=groupOfUniqueNames)";
      nameAttr = "uid";  // Crowd's default is cn; the README tells administrators to use uid
      memberAttr = "uniqueMember";
      externalId = "entryUUID";
    }
  }

  String[] userAttributes(boolean withMemberOf) {
    List<String> a = new ArrayList<>(
        Arrays.asList(nameAttr, "mail", "givenName", "sn", "displayName", externalId));
    if (ad) a.addAll(Arrays.asList("uSNChanged", "objectSid", "primaryGroupID", "userAccountControl"));
    if (withMemberOf) a.add("memberOf");
    return a.toArray(new String[0]);
  }

  String[] groupAttributes() {
    List<String> a = new ArrayList<>(Arrays.asList("cn", "description", memberAttr));
    a.add(externalId);
    if (ad) a.addAll(Arrays.asList("uSNChanged", "objectSid"));
    return a.toArray(new String[0]);
  }

  LdapContext connect() throws NamingException {
    Hashtable<String, Object> env = new Hashtable<>();
    env.put(Context.INITIAL_CONTEXT_FACTORY, "com.sun.jndi.ldap.LdapCtxFactory");
    env.put(Context.PROVIDER_URL, url);  // no base DN: lookup("") reads the root DSE
    env.put(Context.SECURITY_AUTHENTICATION, "simple");
    env.put(Context.SECURITY_PRINCIPAL, bindDn);
    env.put(Context.SECURITY_CREDENTIALS, password);
    env.put("com.sun.jndi.ldap.connect.timeout", "10000");
    env.put("com.sun.jndi.ldap.read.timeout", "120000");
    if (ad) env.put("java.naming.ldap.attributes.binary", "objectGUID objectSid invocationId");
    return new InitialLdapContext(env, null);
  }

  // ------------------------------------------------------------------ searching
  int pages;  // pages read by the last command

  List<SearchResult> search(LdapContext ctx, String base, String filter, String[] attrs,
                            Control extra) throws Exception {
    List<SearchResult> out = new ArrayList<>();
    byte[] cookie = null;
    do {
      List<Control> controls = new ArrayList<>();
      controls.add(new PagedResultsControl(pageSize, cookie, Control.CRITICAL));
      if (extra != null) controls.add(extra);
      ctx.setRequestControls(controls.toArray(new Control[0]));
      SearchControls sc = new SearchControls(SearchControls.SUBTREE_SCOPE, 0, 60000, attrs,
                                             false, false);
      NamingEnumeration<SearchResult> en = ctx.search(new LdapName(base), filter, sc);
      while (en.hasMore()) out.add(en.next());
      en.close();
      pages++;
      cookie = null;
      Control[] response = ctx.getResponseControls();
      if (response != null) {
        for (Control c : response) {
          if (c instanceof PagedResultsResponseControl) {
            cookie = ((PagedResultsResponseControl) c).getCookie();
          }
        }
      }
    } while (cookie != null && cookie.length > 0);
    ctx.setRequestControls(null);
    return out;
  }

  /** The show-deleted control as Crowd's DeletedControl sends it: critical, empty value. */
  static final class ShowDeleted implements Control {
    private static final long serialVersionUID = 1L;
    public String getID() { return "1.2.840.113556.1.4.417"; }
    public boolean isCritical() { return true; }
    public byte[] getEncodedValue() { return new byte[0]; }
  }

  // ------------------------------------------------------------------ model
  static String str(Attributes a, String name) throws NamingException {
    Attribute at = a.get(name);
    if (at == null || at.size() == 0) return null;
    Object v = at.get(0);
    return v instanceof byte[] ? hex((byte[]) v) : v.toString();
  }

  static List<String> strs(Attributes a, String name) throws NamingException {
    List<String> out = new ArrayList<>();
    Attribute at = a.get(name);
    if (at == null) return out;
    for (int i = 0; i < at.size(); i++) out.add(at.get(i).toString());
    return out;
  }

  static String hex(byte[] b) {  // GuidHelper.getGUIDAsString: the bytes as they came
    StringBuilder sb = new StringBuilder();
    for (byte x : b) sb.append(String.format("%02x", x & 0xff));
    return sb.toString();
  }

  static String adGuidText(String h) {  // GuidHelper.convertToADGUID
    if (h == null || h.length() != 32) return h;
    return rev(h.substring(0, 8)) + "-" + rev(h.substring(8, 12)) + "-" + rev(h.substring(12, 16))
        + "-" + h.substring(16, 20) + "-" + h.substring(20, 32);
  }

  static String rev(String s) {
    StringBuilder sb = new StringBuilder();
    for (int i = s.length() - 2; i >= 0; i -= 2) sb.append(s, i, i + 2);
    return sb.toString();
  }

  static String filterGuid(String h) {  // GuidHelper.encodeGUIDForSearch
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < h.length(); i += 2) sb.append('\\').append(h, i, i + 2);
    return sb.toString();
  }

  /** RFC 4515 escaping of an assertion value (Spring's EqualsFilter encodes the same way). */
  static String escapeFilter(String v) {
    StringBuilder sb = new StringBuilder();
    for (char c : v.toCharArray()) {
      if (c == '*' || c == '(' || c == ')' || c == '\\' || c == 0) {
        sb.append(String.format("\\%02x", (int) c));
      } else {
        sb.append(c);
      }
    }
    return sb.toString();
  }

  static final class User {
    String id, dn, name, mail, givenName, sn, displayName, usn;
    boolean active = true;
    List<String> memberOf = new ArrayList<>();
  }

  static final class Group {
    String id, dn, name, usn;
    List<String> memberDns = new ArrayList<>();
  }

  User user(SearchResult r) throws NamingException {
    Attributes a = r.getAttributes();
    User u = new User();
    u.dn = r.getNameInNamespace();
    u.id = str(a, externalId);
    u.name = str(a, nameAttr);
    u.mail = str(a, "mail");
    u.givenName = str(a, "givenName");
    u.sn = str(a, "sn");
    u.displayName = str(a, "displayName");
    u.usn = str(a, "uSNChanged");
    String uac = str(a, "userAccountControl");
    if (uac != null) u.active = (Long.parseLong(uac) & 2) == 0;
    u.memberOf = strs(a, "memberOf");
    return u;
  }

  Group group(SearchResult r) throws NamingException {
    Attributes a = r.getAttributes();
    Group g = new Group();
    g.dn = r.getNameInNamespace();
    g.id = str(a, externalId);
    g.name = str(a, "cn");
    g.usn = str(a, "uSNChanged");
    g.memberDns = strs(a, memberAttr);
    return g;
  }

  /** Crowd's cache of the directory: users and groups by external id, members by id. */
  static final class Cache {
    Map<String, User> users = new TreeMap<>();
    Map<String, Group> groups = new TreeMap<>();
    Map<String, Set<String>> members = new TreeMap<>();  // group id -> member ids
    List<String> unresolved = new ArrayList<>();          // member values that matched nothing

    /** Deleting a cached user drops its memberships too (Crowd's cache cascades). */
    void removeUser(String id) {
      users.remove(id);
      for (Set<String> m : members.values()) m.remove(id);
    }

    Cache copy() {
      Cache c = new Cache();
      c.users.putAll(users);
      c.groups.putAll(groups);
      for (Map.Entry<String, Set<String>> e : members.entrySet()) {
        c.members.put(e.getKey(), new TreeSet<>(e.getValue()));
      }
      return c;
    }

    /** Members by naive DN matching: each value must equal a user's or a group's DN. */
    void setMembers(Group g) {
      Map<String, String> byDn = new HashMap<>();
      for (User u : users.values()) byDn.put(u.dn, u.id);
      for (Group x : groups.values()) byDn.put(x.dn, x.id);
      Set<String> ids = new TreeSet<>();
      for (String dn : g.memberDns) {
        String id = byDn.get(dn);
        if (id == null) {
          unresolved.add(g.name + " -> " + dn);
        } else {
          ids.add(id);
        }
      }
      members.put(g.id, ids);
    }
  }

  // ------------------------------------------------------------------ operations
  Cache baseline;                   // the cache after the last full sync
  String tokenInvocationId;          // ActiveDirectoryTokenHolder
  long tokenUsn = -1;

  Map<String, Object> rootDse(LdapContext ctx) throws NamingException {
    Map<String, Object> out = new LinkedHashMap<>();
    Attributes a = ctx.getAttributes("");  // lookup(""), all user attributes
    for (String name : new String[] {"highestCommittedUSN", "dsServiceName",
                                     "defaultNamingContext", "rootDomainNamingContext"}) {
      out.put(name, str(a, name));
    }
    return out;
  }

  /** MicrosoftActiveDirectory.fetchInvocationId. */
  String fetchInvocationId(LdapContext ctx) throws NamingException {
    String dsServiceName = str(ctx.getAttributes(""), "dsServiceName");
    Object v = ctx.getAttributes(new LdapName(dsServiceName)).get("invocationId").get();
    if (!(v instanceof byte[])) return null;
    return adGuidText(hex((byte[]) v));
  }

  long fetchHighestCommittedUsn(LdapContext ctx) throws NamingException {
    String v = str(ctx.getAttributes(""), "highestCommittedUSN");
    if (v == null) throw new NamingException("No highestCommittedUSN attribute found for AD root");
    return Long.parseLong(v);
  }

  Cache fullSync(LdapContext ctx) throws Exception {
    Cache c = new Cache();
    for (SearchResult r : search(ctx, userDn, userFilter, userAttributes(false), null)) {
      User u = user(r);
      c.users.put(u.id, u);
    }
    List<Group> groups = new ArrayList<>();
    for (SearchResult r : search(ctx, groupDn, groupFilter, groupAttributes(), null)) {
      Group g = group(r);
      groups.add(g);
      c.groups.put(g.id, g);
    }
    for (Group g : groups) c.setMembers(g);
    return c;
  }

  Map<String, Object> commandFull() throws Exception {
    pages = 0;
    Map<String, Object> out = new LinkedHashMap<>();
    LdapContext ctx = connect();
    try {
      baseline = fullSync(ctx);
      out.put("mode", "full");
      if (ad) {  // UsnChangedCacheRefresher.synchroniseAll: the token after the full sync
        tokenInvocationId = fetchInvocationId(ctx);
        tokenUsn = fetchHighestCommittedUsn(ctx);
        out.put("invocationId", tokenInvocationId);
        out.put("lastUsnChanged", tokenUsn);
      }
      out.put("pages", pages);
      out.put("cache", describe(baseline, true));
    } finally {
      ctx.close();
    }
    return out;
  }

  /** UsnChangedCacheRefresher.synchroniseChanges, on a copy of the cache of the last full sync. */
  Map<String, Object> commandIncremental(boolean legacy) throws Exception {
    pages = 0;
    Map<String, Object> out = new LinkedHashMap<>();
    LdapContext ctx = connect();
    try {
      String invocationId = fetchInvocationId(ctx);
      if (tokenUsn < 0 || invocationId == null || !invocationId.equals(tokenInvocationId)) {
        out.put("mode", "full");
        out.put("reason", "invocationId " + tokenInvocationId + " -> " + invocationId);
        return out;
      }
      final long usn = tokenUsn;
      final long next = fetchHighestCommittedUsn(ctx);
      Cache c = baseline.copy();
      Set<String> added = new TreeSet<>(), removed = new TreeSet<>(), updated = new TreeSet<>();
      List<String> tombstoneDns = new ArrayList<>();
      Set<String> groupDnsToUpdate = new HashSet<>();
      String since = "(uSNChanged>=" + (usn + 1) + ")";
      List<User> changed = new ArrayList<>();
      for (SearchResult r : search(ctx, userDn, "(&" + userFilter + since + ")",
                                   userAttributes(true), null)) {
        changed.add(user(r));
      }
      if (legacy) {
        String base = deletedObjectsBase(ctx);
        out.put("tombstoneBase", base);
        String f = "(&(isDeleted=TRUE)(objectClass=" + userObjectClass + ")" + since + ")";
        for (SearchResult r : search(ctx, base, f, new String[] {"objectGUID", "uSNChanged"},
                                     new ShowDeleted())) {
          String id = str(r.getAttributes(), "objectGUID");
          tombstoneDns.add(r.getNameInNamespace());
          if (c.users.containsKey(id)) {
            c.removeUser(id);
            removed.add(id);
          }
        }
        for (User u : changed) {
          if (c.users.put(u.id, u) == null) {
            added.add(u.id);
            groupDnsToUpdate.addAll(u.memberOf);
          } else {
            updated.add(u.id);
          }
        }
      } else {
        Set<String> inAd = new TreeSet<>();
        for (SearchResult r : search(ctx, userDn, userFilter, new String[] {"objectGUID"}, null)) {
          inAd.add(str(r.getAttributes(), "objectGUID"));
        }
        Set<String> toAdd = new TreeSet<>(inAd);
        toAdd.removeAll(c.users.keySet());
        Set<String> toRemove = new TreeSet<>(c.users.keySet());
        toRemove.removeAll(inAd);
        Map<String, User> addByGuid = new HashMap<>();
        for (User u : changed) {
          if (toAdd.contains(u.id)) {
            addByGuid.put(u.id, u);
          } else if (c.users.containsKey(u.id)) {  // GUIDs neither cached nor in AD: skipped
            c.users.put(u.id, u);
            updated.add(u.id);
          }
        }
        for (String id : toRemove) c.removeUser(id);
        removed.addAll(toRemove);
        List<String> fetchedByGuid = new ArrayList<>();
        for (String id : toAdd) {
          User u = addByGuid.get(id);
          if (u == null) {  // findUserByExternalId
            List<SearchResult> one = search(ctx, userDn,
                "(&" + userFilter + "(objectGUID=" + filterGuid(id) + "))", userAttributes(true),
                null);
            if (one.isEmpty()) {
              out.put("mode", "full");
              out.put("reason", "user " + id + " not found by objectGUID");
              return out;
            }
            u = user(one.get(0));
            fetchedByGuid.add(u.name);
          }
          c.users.put(id, u);
          added.add(id);
          groupDnsToUpdate.addAll(u.memberOf);
        }
        out.put("fetchedByGuid", fetchedByGuid);
      }

      // Groups (the same in both modes): GUID diff plus the uSNChanged search.
      Map<String, String> groupsInAd = new TreeMap<>();
      for (SearchResult r : search(ctx, groupDn, groupFilter, new String[] {"cn", "objectGUID"},
                                   null)) {
        groupsInAd.put(str(r.getAttributes(), "objectGUID"), str(r.getAttributes(), "cn"));
      }
      Set<String> groupsRemoved = new TreeSet<>(c.groups.keySet());
      groupsRemoved.removeAll(groupsInAd.keySet());
      for (String id : groupsRemoved) {
        c.groups.remove(id);
        c.members.remove(id);
      }
      Set<String> groupsAdded = new TreeSet<>(), groupsUpdated = new TreeSet<>();
      List<Group> reread = new ArrayList<>();
      for (SearchResult r : search(ctx, groupDn, "(&" + groupFilter + since + ")",
                                   groupAttributes(), null)) {
        Group g = group(r);
        if (c.groups.containsKey(g.id)) {
          groupsUpdated.add(g.id);
        } else if (groupsInAd.containsKey(g.id)) {
          groupsAdded.add(g.id);
        } else {
          continue;
        }
        c.groups.put(g.id, g);
        reread.add(g);
      }
      Set<String> missing = new TreeSet<>(groupsInAd.keySet());
      missing.removeAll(baseline.groups.keySet());
      missing.removeAll(groupsAdded);
      if (!missing.isEmpty()) {
        out.put("mode", "full");
        out.put("reason", "groups not found by objectGUID: " + missing);
        return out;
      }
      for (Group g : reread) c.setMembers(g);
      // searchGroupsByDns: the groups new users are in, by distinguishedName, 1000 at a time.
      List<String> byDn = new ArrayList<>();
      if (!groupDnsToUpdate.isEmpty()) {
        StringBuilder f = new StringBuilder("(&" + groupFilter + "(|");
        for (String dn : groupDnsToUpdate) {
          f.append("(distinguishedName=").append(escapeFilter(dn)).append(")");
        }
        f.append("))");
        for (SearchResult r : search(ctx, groupDn, f.toString(), groupAttributes(), null)) {
          Group g = group(r);
          byDn.add(g.dn);
          c.groups.put(g.id, g);
          c.setMembers(g);
        }
      }
      java.util.Collections.sort(byDn);
      out.put("mode", legacy ? "incremental-legacy" : "incremental");
      out.put("since", usn);
      out.put("nextUsn", next);
      out.put("added", names(c, baseline, added));
      out.put("removed", names(c, baseline, removed));
      out.put("updated", names(c, baseline, updated));
      out.put("tombstones", tombstoneDns);
      out.put("groupsAdded", groupNames(c, groupsAdded));
      out.put("groupsRemoved", groupNames(baseline, groupsRemoved));
      out.put("groupsUpdated", groupNames(c, groupsUpdated));
      out.put("groupsByDn", byDn);
      out.put("pages", pages);
      out.put("cache", describe(c, false));
    } finally {
      ctx.close();
    }
    return out;
  }

  /** MicrosoftActiveDirectory.getDeletedObjectsDN. */
  String deletedObjectsBase(LdapContext ctx) {
    try {
      String root = str(ctx.getAttributes(""), "rootDomainNamingContext");
      return new LdapName("CN=Deleted Objects," + root).toString();
    } catch (NamingException e) {  // no rootDomainNamingContext: "...,null" does not parse
      return baseDn;
    }
  }

  static List<String> names(Cache now, Cache before, Set<String> ids) {
    List<String> out = new ArrayList<>();
    for (String id : ids) {
      User u = now.users.containsKey(id) ? now.users.get(id) : before.users.get(id);
      out.add(u == null ? id : u.name);
    }
    java.util.Collections.sort(out);
    return out;
  }

  static List<String> groupNames(Cache c, Set<String> ids) {
    List<String> out = new ArrayList<>();
    for (String id : ids) out.add(c.groups.containsKey(id) ? c.groups.get(id).name : id);
    java.util.Collections.sort(out);
    return out;
  }

  Map<String, Object> describe(Cache c, boolean withDns) {
    Map<String, Object> out = new LinkedHashMap<>();
    Map<String, Object> users = new TreeMap<>();
    for (User u : c.users.values()) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("name", u.name);
      m.put("dn", u.dn);
      m.put("mail", u.mail);
      m.put("displayName", u.displayName);
      m.put("givenName", u.givenName);
      m.put("sn", u.sn);
      m.put("active", u.active);
      if (ad) m.put("guid", adGuidText(u.id));
      users.put(u.id, m);
    }
    Map<String, Object> groups = new TreeMap<>();
    for (Group g : c.groups.values()) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("name", g.name);
      m.put("dn", g.dn);
      m.put("members", new ArrayList<>(c.members.getOrDefault(g.id, new TreeSet<>())));
      if (withDns) m.put("memberDns", g.memberDns);
      groups.put(g.id, m);
    }
    out.put("users", users);
    out.put("groups", groups);
    out.put("unresolved", c.unresolved);
    return out;
  }

  // ------------------------------------------------------------------ JSON out
  static void json(StringBuilder sb, Object v) {
    if (v == null) {
      sb.append("null");
    } else if (v instanceof String) {
      sb.append('"');
      for (char ch : ((String) v).toCharArray()) {
        switch (ch) {
          case '"': sb.append("\\\""); break;
          case '\\': sb.append("\\\\"); break;
          case '\n': sb.append("\\n"); break;
          case '\r': sb.append("\\r"); break;
          case '\t': sb.append("\\t"); break;
          default:
            if (ch < 0x20) {
              sb.append(String.format("\\u%04x", (int) ch));
            } else {
              sb.append(ch);
            }
        }
      }
      sb.append('"');
    } else if (v instanceof Number || v instanceof Boolean) {
      sb.append(v);
    } else if (v instanceof Map) {
      sb.append('{');
      boolean first = true;
      for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
        if (!first) sb.append(',');
        first = false;
        json(sb, e.getKey().toString());
        sb.append(':');
        json(sb, e.getValue());
      }
      sb.append('}');
    } else if (v instanceof Iterable) {
      sb.append('[');
      boolean first = true;
      for (Object x : (Iterable<?>) v) {
        if (!first) sb.append(',');
        first = false;
        json(sb, x);
      }
      sb.append(']');
    } else {
      json(sb, v.toString());
    }
  }

  public static void main(String[] args) throws Exception {
    Map<String, String> o = new HashMap<>();
    for (int i = 0; i + 1 < args.length; i += 2) o.put(args[i].replaceFirst("^--", ""), args[i + 1]);
    JiraSync s = new JiraSync(o);
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, "UTF-8"));
    java.io.PrintStream outStream = new java.io.PrintStream(System.out, true, "UTF-8");
    for (String line; (line = in.readLine()) != null;) {
      line = line.trim();
      if (line.isEmpty()) continue;
      if (line.equals("quit")) break;
      Map<String, Object> result;
      try {
        LdapContext ctx;
        switch (line) {
          case "full": result = s.commandFull(); break;
          case "incremental": result = s.commandIncremental(false); break;
          case "incremental-legacy": result = s.commandIncremental(true); break;
          case "rootdse":
            ctx = s.connect();
            try {
              result = s.rootDse(ctx);
            } finally {
              ctx.close();
            }
            break;
          default: throw new IllegalArgumentException("unknown command " + line);
        }
      } catch (Exception e) {
        result = new LinkedHashMap<>();
        result.put("error", e.toString());
      }
      StringBuilder sb = new StringBuilder();
      json(sb, result);
      outStream.println(sb);
    }
  }
}
